"""Poison feeds: which feeds of a batch run, run alone, or are quarantined (pure logic).

A batch task marks its feeds in flight before fetching; recording a feed's outcome
clears its mark. A feed marked longer ago than the task's hard time limit, when a task
picks it up again, was being fetched or parsed when its process died (killed out of
memory, or by that time limit): one more loss. One marked more recently may be in
flight in a live task (the morning's refresh of every feed meets the beat's), or in
one that has just died: it is left alone now, and counted once its mark is older.
Lost once, a feed is retried in a task of its own, so a second death names it alone
and costs no other feed; lost ``LOSSES`` times in a row, it is quarantined: not
fetched now, polled again after a back-off, and alone when it is. The rest of the
batch runs at once.

A feed still marked never runs in a batch again, so a batch redelivered after a lost
worker runs without the feeds it had in flight, shrinks each time and ends: a task
cannot be re-queued forever; and each death counts a loss on each of those feeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from brief.types import PoisonMarker as Marker

LOSSES = 2  # deaths in a row that quarantine a feed
REASON = "its fetch or parse killed or timed out the worker {n} times in a row"


@dataclass(frozen=True)
class Triage:
    run: list[int] = field(default_factory=list)  # fetched by this task now
    alone: list[int] = field(default_factory=list)  # each sent to a task of its own
    quarantine: dict[int, int] = field(default_factory=dict)  # feed id -> losses in a row
    busy: list[int] = field(default_factory=list)  # maybe in flight elsewhere: not now


def triage(markers: Sequence[Marker], *, alone: bool, dead_before: datetime) -> Triage:
    """What a task given ``markers`` does with each feed (``alone``: a one-feed task).

    A mark set before ``dead_before`` (now minus the hard time limit) is a dead task's.
    """
    result = Triage()
    for m in markers:
        if m.started_at is not None and m.started_at > dead_before:
            result.busy.append(m.feed_id)
            continue
        lost = m.lost + (m.started_at is not None)
        if m.started_at is not None and lost >= LOSSES:
            result.quarantine[m.feed_id] = lost
        elif (lost or m.quarantined) and not alone:
            result.alone.append(m.feed_id)
        else:
            result.run.append(m.feed_id)
    return result


def reason(losses: int) -> str:
    return REASON.format(n=losses)
