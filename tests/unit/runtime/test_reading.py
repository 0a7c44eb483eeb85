"""A worker hands on every offset of a partition in order (agents/runtime/reading.py)."""

from __future__ import annotations

from agents.runtime.reading import Reading, Verdict


def test_records_in_order_are_handed_on() -> None:
    reading = Reading(expected=708)
    assert [reading.judge(o, batch=1) for o in (708, 709, 710)] == [Verdict.DELIVER] * 3
    assert reading.expected == 711


def test_regression_a_seek_back_the_fetcher_had_read_past_is_read_again() -> None:
    """The full fault run of 16:49: reading set back to 708 while the fetch stood at 1002.
    Faust took 1002 for a gap 709-1001 and committed past 294 events nobody graded."""
    reading = Reading(expected=708)
    assert reading.judge(1002, batch=5) is Verdict.SEEK_BACK
    assert reading.judge(1003, batch=5) is Verdict.DROP    # fetched before the seek
    assert reading.judge(708, batch=6) is Verdict.DELIVER  # the fetch after it
    assert reading.expected == 709


def test_a_gap_counts_only_once_a_fetch_after_the_seek_back_confirms_it() -> None:
    reading = Reading(expected=40)
    assert reading.judge(45, batch=2) is Verdict.SEEK_BACK
    assert reading.judge(45, batch=2) is Verdict.DROP
    assert reading.judge(45, batch=3) is Verdict.GAP  # compacted away: 40-44 are not there
    assert reading.expected == 46 and reading.sought_in is None
    assert reading.judge(50, batch=3) is Verdict.SEEK_BACK  # a new gap is checked again


def test_records_below_the_next_one_were_handed_on_already() -> None:
    reading = Reading(expected=10)
    assert reading.judge(9, batch=1) is Verdict.DROP
    assert reading.expected == 10


def test_a_seek_sets_where_reading_goes_on_in_either_direction() -> None:
    reading = Reading(expected=900)
    reading.sought(708)
    assert reading.judge(708, batch=1) is Verdict.DELIVER
    reading.sought(None)  # to an end not known here: wherever the fetch starts
    assert reading.judge(5000, batch=1) is Verdict.DELIVER and reading.expected == 5001


def test_a_seek_while_a_record_is_handed_on_is_not_overwritten() -> None:
    """The reading moves on before the record is handed on: a seek back during the hand-on
    (a rebalance's) is where reading goes on afterwards."""
    reading = Reading(expected=900)
    assert reading.judge(900, batch=1) is Verdict.DELIVER
    reading.sought(708)  # while 900 is with the stream
    assert reading.judge(901, batch=1) is Verdict.SEEK_BACK
