"""Which feeds of a batch run, run alone, or are quarantined (brief.feeds.quarantine)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from brief.feeds import quarantine
from brief.feeds.quarantine import LOSSES, Triage, reason
from brief.types import PoisonMarker

AT = datetime(2026, 12, 1, 12, tzinfo=UTC)  # when the marks were set
LIMIT = timedelta(minutes=11)  # the batch's hard time limit


def triage(markers: Sequence[PoisonMarker], *, alone: bool) -> Triage:
    """Triage by a task that starts after the marks' tasks were surely dead."""
    return quarantine.triage(markers, alone=alone, dead_before=AT + timedelta(seconds=1))


def test_a_recent_mark_may_be_a_live_tasks_the_feed_waits() -> None:
    markers = [PoisonMarker(1, AT), PoisonMarker(2, None)]
    now = AT + LIMIT - timedelta(seconds=1)
    assert quarantine.triage(markers, alone=False, dead_before=now - LIMIT) == Triage(
        run=[2], busy=[1]
    )
    now = AT + LIMIT + timedelta(seconds=1)  # its task is dead by now: a loss
    assert quarantine.triage(markers, alone=False, dead_before=now - LIMIT) == Triage(
        run=[2], alone=[1]
    )


def test_a_fresh_batch_runs_whole() -> None:
    markers = [PoisonMarker(1, None), PoisonMarker(2, None)]
    assert triage(markers, alone=False) == Triage(run=[1, 2])


def test_feeds_in_flight_when_the_process_died_go_alone_the_rest_runs() -> None:
    markers = [PoisonMarker(1, AT), PoisonMarker(2, None), PoisonMarker(3, AT)]
    assert triage(markers, alone=False) == Triage(run=[2], alone=[1, 3])


def test_a_feed_lost_again_is_quarantined_with_its_count() -> None:
    lost_once = PoisonMarker(1, AT, lost=1)
    assert triage([lost_once], alone=True) == Triage(quarantine={1: LOSSES})
    # ...in a batch too: a second death is enough, whoever it ran with.
    assert triage([lost_once, PoisonMarker(2, None)], alone=False) == Triage(
        run=[2], quarantine={1: 2}
    )


def test_a_one_feed_task_runs_its_feed_after_a_first_loss() -> None:
    assert triage([PoisonMarker(1, AT)], alone=True) == Triage(run=[1])


def test_a_quarantined_feed_due_again_runs_alone_never_in_a_batch() -> None:
    back = PoisonMarker(1, None, lost=2, quarantined=True)
    assert triage([back, PoisonMarker(2, None)], alone=False) == Triage(run=[2], alone=[1])
    assert triage([back], alone=True) == Triage(run=[1])
    # It dies again: quarantined again (a longer back-off, from its error count).
    assert triage([PoisonMarker(1, AT, lost=2, quarantined=True)], alone=True) == Triage(
        quarantine={1: 3}
    )


def test_the_reason_says_what_happened() -> None:
    assert reason(2) == "its fetch or parse killed or timed out the worker 2 times in a row"
