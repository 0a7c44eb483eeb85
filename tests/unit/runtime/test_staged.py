"""Staged state writes (agents/runtime/staged.py): read-your-writes, applied in order."""

from __future__ import annotations

from types import MappingProxyType

import pytest

from agents.runtime.contract import NO_STATE, StepContext
from agents.runtime.staged import StagedContext, StagedMapping


def test_reads_see_the_staged_writes_and_the_base_is_untouched_until_applied() -> None:
    base = {"a": 1, "b": 2}
    staged = StagedMapping(base)
    staged["a"] = 10
    staged["c"] = 3
    del staged["b"]
    assert staged["a"] == 10 and staged.get("b") is None and "b" not in staged
    assert sorted(staged) == ["a", "c"] and len(staged) == 2
    assert staged.pop("c") == 3 and "c" not in staged
    with pytest.raises(KeyError):
        del staged["missing"]
    assert base == {"a": 1, "b": 2}
    staged.apply()
    assert base == {"a": 10} and staged.writes == {}


def test_writes_reach_the_base_in_the_order_of_their_last_change() -> None:
    seen: list[tuple[str, object]] = []

    class Recording(dict):
        def __setitem__(self, key, value):
            seen.append((key, value))
            super().__setitem__(key, value)

    staged = StagedMapping(Recording())
    staged["entry"] = 1
    staged["record"] = 1
    staged["entry"] = 2  # rewritten: now the last change
    staged.apply()
    assert seen == [("record", 1), ("entry", 2)]


def test_a_context_stages_each_table_and_leaves_no_state_alone() -> None:
    state, shared = {"k": 0}, {}
    staged = StagedContext(StepContext(state=state, shared=shared, window=NO_STATE))
    assert staged.ctx.window is NO_STATE and not staged.dirty
    staged.ctx.state["k"] = 1
    staged.ctx.shared["s"] = True
    assert staged.dirty and state == {"k": 0} and shared == {}
    staged.discard()
    assert not staged.dirty
    staged.ctx.state["k"] = 2
    staged.apply()
    assert state == {"k": 2} and shared == {}
    assert isinstance(NO_STATE, MappingProxyType)
