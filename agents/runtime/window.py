"""Windowed state: entries that expire a fixed time after they were written.

Per-experiment state is deleted when its experiment (or round) ends. What must outlive it
is the marker that says so ("this round is final", "this outcome was counted"): a
redelivered event that arrives after the end (a worker killed before its commit, a replay
of the group) must find it, or it would start the experiment's state again and count it
twice. A redelivery comes within minutes; `window_s` (settings.state_window_s, a day by
default) bounds how long a marker lives, so the markers held are those of the experiments
that ended in the last window, never all of history.

Both runtimes wrap a table in WindowedState. Values are stored as [written_at, value] with
wall-clock seconds (a restarted worker reads its predecessor's entries). An expired entry
reads as absent; `sweep` drops expired entries from the process without writing anything.
On Kafka the changelog of a window table is `compact,delete` with retention = the window,
so the broker forgets expired markers too and a recovering worker does not load them back.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any, TypeGuard


DEFAULT_WINDOW_S = 24 * 3600.0  # settings.state_window_s


class WindowedState(MutableMapping[str, Any]):
    def __init__(self, backing: MutableMapping[str, Any], window_s: float, *,
                 drop_local: Callable[[str], None] | None = None,
                 local_items: Callable[[], Any] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        """backing: the table. drop_local/local_items: remove a key from / list this
        process's copy without a changelog write (default: the backing mapping itself)."""
        self._backing = backing
        self.window_s = window_s
        self._drop = drop_local or (lambda key: backing.pop(key, None))
        self._local_items = local_items or (lambda: list(backing.items()))
        self._clock = clock
        self._next_sweep = clock() + window_s / 10

    def _live(self, stored: Any) -> TypeGuard[list[Any]]:
        return isinstance(stored, list) and len(stored) == 2 \
            and self._clock() - stored[0] <= self.window_s

    def __getitem__(self, key: str) -> Any:
        stored = self._backing.get(key)
        if not self._live(stored):
            raise KeyError(key)
        return stored[1]

    def __setitem__(self, key: str, value: Any) -> None:
        self._backing[key] = [self._clock(), value]
        if self._clock() >= self._next_sweep:
            self.sweep()

    def __delitem__(self, key: str) -> None:
        if key not in self._backing:
            raise KeyError(key)
        del self._backing[key]

    def __iter__(self) -> Iterator[str]:
        return iter([k for k, v in self._local_items() if self._live(v)])

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def sweep(self) -> int:
        """Drop expired entries from this process's copy; returns how many."""
        self._next_sweep = self._clock() + self.window_s / 10
        expired = [k for k, v in self._local_items() if not self._live(v)]
        for key in expired:
            self._drop(key)
        return len(expired)
