"""Windowed state: markers that expire, swept without writing anything."""

from __future__ import annotations

from agents.runtime.window import WindowedState


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_entry_reads_as_absent_after_the_window_and_is_swept():
    clock, backing = Clock(), {}
    window = WindowedState(backing, 60, clock=clock)
    window["a"] = True
    clock.now += 30
    window["b"] = {"reason": "x"}
    assert "a" in window and window["b"] == {"reason": "x"} and len(window) == 2
    clock.now += 31
    assert "a" not in window and window.get("a") is None and list(window) == ["b"]
    assert window.sweep() == 1 and set(backing) == {"b"}
    clock.now += 60
    window["c"] = 1  # writes sweep now and then: the backing table does not grow forever
    assert set(backing) == {"c"}


def test_deleting_and_values_other_writers_left():
    backing = {"old": True}  # not written through a window: not a live entry
    window = WindowedState(backing, 60)
    assert "old" not in window
    window["k"] = 1
    del window["k"]
    assert "k" not in backing
