"""The delivery state machine in the store, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from brief import store
from brief.db import session_scope
from brief.editions import build_edition
from brief.models import Delivery
from brief.store import DeliveryResult, SentDelivery
from brief.types import DeliveryStatus
from tests.factories import CTX, NOW, add_feed_with_articles, plan

LEASE = timedelta(minutes=10)


def _edition_with(engine: Engine, count: int, **subscriber: object) -> int:
    with session_scope(engine) as session:
        add_feed_with_articles(session, "https://a.test/feed", "world", ["Quake in Chile"])
        for n in range(count):
            store.add_subscriber(session, f"r{n}@x.test", now=NOW, **subscriber)  # type: ignore[arg-type]
        edition, _ = build_edition(session, plan(), CTX, day=NOW.date(), now=NOW)
        store.create_deliveries(session, edition.id, NOW)
        return edition.id


def _rows(engine: Engine) -> list[Delivery]:
    with session_scope(engine) as session:
        return list(session.scalars(select(Delivery).order_by(Delivery.id)))


def _status(engine: Engine) -> list[str]:
    return [r.status for r in _rows(engine)]


def test_claim_batch_takes_due_rows_oldest_first_once(engine: Engine) -> None:
    edition_id = _edition_with(engine, 5, sections=["world"])
    with session_scope(engine) as session:
        first = store.claim_batch(session, limit=3, lease=LEASE, now=NOW)
    with session_scope(engine) as session:
        second = store.claim_batch(session, limit=3, lease=LEASE, now=NOW, edition_id=edition_id)
    with session_scope(engine) as session:
        assert store.claim_batch(session, limit=3, lease=LEASE, now=NOW) == []
    assert [c.recipient for c in first] == ["r0@x.test", "r1@x.test", "r2@x.test"]
    assert [c.recipient for c in second] == ["r3@x.test", "r4@x.test"]
    assert all(
        c.attempts == 1 and c.sections == ("world",) and c.lease_until == NOW + LEASE
        for c in first + second
    )
    assert _status(engine) == ["claimed"] * 5
    with session_scope(engine) as session:
        assert store.claim_batch(session, limit=9, lease=LEASE, now=NOW, edition_id=999) == []


def test_a_backed_off_row_waits_for_its_time(engine: Engine) -> None:
    _edition_with(engine, 2)
    with session_scope(engine) as session:
        [a, b] = store.claim_batch(session, limit=9, lease=LEASE, now=NOW)
        later = NOW + timedelta(minutes=5)
        store.record_outcomes(
            session,
            [
                DeliveryResult(
                    a.id, DeliveryStatus.PENDING, NOW, 451, "451 busy", not_before=later
                ),
                DeliveryResult(b.id, DeliveryStatus.FAILED, NOW, 550, "550 no such user"),
            ],
        )
    with session_scope(engine) as session:
        assert store.claim_batch(session, limit=9, lease=LEASE, now=NOW) == []
        assert store.sweep(session, NOW).due == 0
        assert store.sweep(session, later).due == 1
        [again] = store.claim_batch(session, limit=9, lease=LEASE, now=later)
    assert again.id == a.id and again.attempts == 2 and again.sections == ()
    rows = _rows(engine)
    assert (rows[1].status, rows[1].smtp_code, rows[1].last_error) == (
        "failed",
        550,
        "550 no such user",
    )


def test_mark_progress_records_the_previous_message_and_the_current_one(engine: Engine) -> None:
    _edition_with(engine, 3)
    with session_scope(engine) as session:
        a, b, _c = store.claim_batch(session, limit=9, lease=LEASE, now=NOW)
    with session_scope(engine) as session:
        assert store.mark_progress(session, sent=None, sending=a, message_id="<m.a@x>")
    assert _status(engine) == ["sending", "claimed", "claimed"]
    assert _rows(engine)[0].message_id == "<m.a@x>"  # what to look for, should it end unsure
    with session_scope(engine) as session:
        sent = SentDelivery(a.id, "<m.a@x>", NOW, 250)
        assert store.mark_progress(session, sent=sent, sending=b, message_id="<m.b@x>")
    assert [r.message_id for r in _rows(engine)] == ["<m.a@x>", "<m.b@x>", None]
    with session_scope(engine) as session:
        assert store.mark_progress(
            session, sent=SentDelivery(b.id, "<m.b@x>", NOW, 250), sending=None
        )
    rows = _rows(engine)
    assert [(r.status, r.message_id, r.smtp_code) for r in rows] == [
        ("sent", "<m.a@x>", 250),
        ("sent", "<m.b@x>", 250),
        ("claimed", None, None),
    ]
    assert rows[0].sent_at == NOW and rows[2].sent_at is None


def test_mark_progress_refuses_a_row_whose_claim_was_lost(engine: Engine) -> None:
    _edition_with(engine, 1)
    with session_scope(engine) as session:
        [mine] = store.claim_batch(session, limit=9, lease=LEASE, now=NOW)
    late = NOW + LEASE + timedelta(seconds=1)
    with session_scope(engine) as session:
        assert store.sweep(session, late).released == 1
        [theirs] = store.claim_batch(session, limit=9, lease=LEASE, now=late)
    with session_scope(engine) as session:
        assert not store.mark_progress(session, sent=None, sending=mine)
    assert _status(engine) == ["claimed"]  # still the other batch's
    with session_scope(engine) as session:
        assert store.mark_progress(session, sent=None, sending=theirs)


def test_release_gives_claims_back_without_counting_an_attempt(engine: Engine) -> None:
    _edition_with(engine, 2)
    with session_scope(engine) as session:
        a, b = store.claim_batch(session, limit=9, lease=LEASE, now=NOW)
        store.mark_progress(session, sent=None, sending=a)
    later = NOW + timedelta(seconds=30)
    with session_scope(engine) as session:
        # Only claimed rows go back: a sending row may be on the wire.
        assert store.release(session, [a.id, b.id], not_before=later, error="slowed") == 1
    rows = _rows(engine)
    assert [(r.status, r.attempts) for r in rows] == [("sending", 1), ("pending", 0)]
    assert rows[1].not_before == later and rows[1].last_error == "slowed"


def test_sweep_gives_back_expired_claims_and_makes_expired_sends_unsure(engine: Engine) -> None:
    edition_id = _edition_with(engine, 4)
    with session_scope(engine) as session:
        a, _b, _c = store.claim_batch(session, limit=3, lease=LEASE, now=NOW)
        store.mark_progress(session, sent=None, sending=a)
    with session_scope(engine) as session:
        assert store.sweep(session, NOW + timedelta(minutes=1)) == store.SweepResult(
            released=0, unsure=0, due=1, active=3
        )
    late = NOW + LEASE + timedelta(seconds=1)
    with session_scope(engine) as session:
        assert store.sweep(session, late) == store.SweepResult(
            released=2, unsure=1, due=3, active=0
        )
    assert _status(engine) == ["unsure", "pending", "pending", "pending"]
    with session_scope(engine) as session:
        [unsure] = store.unsure_deliveries(session, edition_id)
        assert unsure.id == a.id and unsure.recipient == "r0@x.test"
        # An unsure row is never claimed again by itself...
        assert a.id not in {
            c.id for c in store.claim_batch(session, limit=9, lease=LEASE, now=late)
        }


def test_the_operator_resolves_unsure_rows(engine: Engine) -> None:
    _edition_with(engine, 3)
    with session_scope(engine) as session:
        claimed = store.claim_batch(session, limit=9, lease=LEASE, now=NOW)
        store.record_outcomes(
            session,
            [DeliveryResult(c.id, DeliveryStatus.UNSURE, NOW, None, "timeout") for c in claimed],
        )
    a, b, _c = (x.id for x in claimed)
    with session_scope(engine) as session:
        assert store.resend_unsure(session, [a, 999], NOW) == [a]
        assert store.mark_unsure_sent(session, [b], NOW) == [b]
        assert store.mark_unsure_sent(session, [a], NOW) == []  # pending now, not unsure
    assert _status(engine) == ["pending", "sent", "unsure"]


def test_a_250_lands_even_on_a_row_the_sweep_made_unsure(engine: Engine) -> None:
    _edition_with(engine, 1)
    with session_scope(engine) as session:
        [a] = store.claim_batch(session, limit=9, lease=LEASE, now=NOW)
        store.mark_progress(session, sent=None, sending=a)
    with session_scope(engine) as session:
        store.sweep(session, NOW + LEASE + timedelta(seconds=1))
    with session_scope(engine) as session:
        store.record_outcomes(
            session, [DeliveryResult(a.id, DeliveryStatus.SENT, NOW, 250, message_id="<m@x>")]
        )
    [row] = _rows(engine)
    assert (row.status, row.message_id) == ("sent", "<m@x>")


def test_due_deliveries_for_more_subscribers_than_one_statement_can_name(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from brief.store import deliveries

    monkeypatch.setattr(deliveries, "IDS_PER_INSERT", 4)  # as 100,000 readers on PostgreSQL
    edition_id = _edition_with(engine, 0)
    with session_scope(engine) as session:
        for n in range(10):
            store.add_subscriber(session, f"r{n}@x.test", now=NOW)
    with session_scope(engine) as session:
        edition = store.get_edition(session, edition_id)
        assert store.create_due_deliveries(session, edition, NOW) == 10
        assert store.create_due_deliveries(session, edition, NOW) == 0
        assert store.create_deliveries(session, edition_id, NOW) == 0
        assert store.count_pending(session, edition_id) == 10
