"""Deliveries: one per (edition, subscriber), sent in batches that claim rows with a lease.

The states (brief.types.DeliveryStatus) and who moves a row between them:

    pending --claim_batch--> claimed --mark_progress (before the end of DATA)--> sending
    sending --mark_progress / record_outcomes--> sent | failed | pending (back-off) | unsure
    claimed --release, or sweep after the lease--> pending
    sending --sweep after the lease--> unsure (it may have arrived: never resent by itself)
    unsure --the operator: resend_unsure / mark_unsure_sent--> pending | sent

None of these functions commits: the caller's transaction decides what goes together.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    Integer,
    String,
    Table,
    and_,
    bindparam,
    case,
    func,
    literal,
    null,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from brief.models import Delivery, Edition, Subscriber, UTCDateTime
from brief.store._sql import dialect_insert, execute_prepared
from brief.types import DeliveryStatus, SubscriberStatus

_TABLE = cast(Table, Delivery.__table__)  # Core: statements built once, executemany by id
_ASYNC_COMMIT = text("SET synchronous_commit = off")
_SYNC_COMMIT = text("RESET synchronous_commit")
ERROR_LENGTH = 2000  # last_error is kept short: the reply line, not a transcript


@dataclass(frozen=True)
class ClaimedDelivery:
    """A delivery a batch holds until ``lease_until``: what sending it needs."""

    id: int
    edition_id: int
    subscriber_id: int
    recipient: str
    attempts: int  # this claim included
    sections: tuple[str, ...]  # the subscriber's sections; () is every section
    lease_until: datetime


@dataclass(frozen=True)
class SentDelivery:
    """A message the server accepted (its 250), to record as sent."""

    id: int
    message_id: str
    at: datetime
    smtp_code: int | None = None


@dataclass(frozen=True)
class DeliveryResult:
    """How one attempt ended, to record: sent, pending again (back-off), failed or unsure."""

    id: int
    status: DeliveryStatus
    at: datetime
    smtp_code: int | None = None
    error: str | None = None
    message_id: str | None = None  # sent
    not_before: datetime | None = None  # pending: not tried again before then


@dataclass(frozen=True)
class SweepResult:
    released: int  # expired claims given back to pending (nothing of them was sent)
    unsure: int  # expired `sending` rows: the message may have arrived
    due: int  # pending rows due now: what send tasks have left to do
    active: int  # claimed or sending rows whose lease still holds (a live batch)


@dataclass(frozen=True)
class UnsureDelivery:
    id: int
    recipient: str
    message_id: str | None
    claimed_at: datetime | None
    last_error: str | None


ANALYZE_AFTER = 1000  # pending rows inserted at once: the table's statistics are renewed
_ANALYZE = text("ANALYZE delivery")
IDS_PER_INSERT = 5000  # PostgreSQL takes at most 65535 parameters per statement


def _insert_pending(session: Session, edition_id: int, now: datetime, which: Any) -> int:
    """Pending deliveries of an edition for the active subscribers ``which`` selects, in
    one INSERT ... SELECT (no row goes through Python); existing ones kept."""
    subscribers = select(
        literal(edition_id),
        Subscriber.id,
        Subscriber.email,
        literal(DeliveryStatus.PENDING.value),
        literal(0),
        literal(now, UTCDateTime()),
    ).where(Subscriber.status == SubscriberStatus.ACTIVE, which)
    columns = ["edition_id", "subscriber_id", "recipient", "status", "attempts", "created_at"]
    stmt = (
        dialect_insert(session)(Delivery)
        .from_select(columns, subscribers)
        .on_conflict_do_nothing()
        .returning(Delivery.id)  # counts reliably where rowcount does not
    )
    return len(session.execute(stmt).all())


def _analyze_after(session: Session, inserted: int) -> int:
    """Fresh statistics after many new rows, for the claims that follow at once: with the
    table's old ones (autovacuum analyzes it a minute later, at best) PostgreSQL's planner
    takes the pending rows for a handful, and reads all of them for each claim of 200
    (0.7 s a claim at 100,000) instead of the first 200 of the partial index."""
    if inserted >= ANALYZE_AFTER and session.get_bind().dialect.name == "postgresql":
        session.execute(_ANALYZE)
    return inserted


def create_deliveries(
    session: Session, edition_id: int, now: datetime, *, subscriber_id: int | None = None
) -> int:
    """One pending Delivery per active subscriber (or only this one) who has none yet."""
    which = true() if subscriber_id is None else Subscriber.id == subscriber_id
    return _analyze_after(session, _insert_pending(session, edition_id, now, which))


def count_pending(session: Session, edition_id: int, *, subscriber_id: int | None = None) -> int:
    """The edition's deliveries still to send (to everyone, or to this subscriber)."""
    query = (
        select(func.count())
        .select_from(Delivery)
        .where(Delivery.edition_id == edition_id, Delivery.status == DeliveryStatus.PENDING)
    )
    if subscriber_id is not None:
        query = query.where(Delivery.subscriber_id == subscriber_id)
    return int(session.scalar(query) or 0)


def _reader_active() -> Any:
    # A reader who left, bounced or complained since the row was made gets nothing more.
    return (
        select(Subscriber.id)
        .where(
            Subscriber.id == Delivery.subscriber_id, Subscriber.status == SubscriberStatus.ACTIVE
        )
        .exists()
    )


def _due(now: datetime) -> Any:
    return and_(
        Delivery.status == DeliveryStatus.PENDING,
        or_(Delivery.not_before.is_(None), Delivery.not_before <= now),
        _reader_active(),
    )


def find_delivery(session: Session, delivery_id: int) -> Delivery | None:
    return session.get(Delivery, delivery_id)


def claim_batch(
    session: Session,
    *,
    limit: int,
    lease: timedelta,
    now: datetime,
    edition_id: int | None = None,
) -> list[ClaimedDelivery]:
    """Claim up to ``limit`` due pending deliveries, oldest first, until ``now + lease``.

    One UPDATE ... WHERE id IN (SELECT ... LIMIT n) RETURNING: two batches racing never
    get the same row (on PostgreSQL the subquery skips rows another claim has locked;
    SQLite has one writer at a time). The subscribers' sections come in a second select
    (SQLite's RETURNING cannot name a joined table).
    """
    lease_until = now + lease
    due = select(Delivery.id).where(_due(now))
    if edition_id is not None:
        due = due.where(Delivery.edition_id == edition_id)
    due = due.order_by(Delivery.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        # A materialized CTE is evaluated once: a plain IN (subquery) may be re-run by
        # the planner, and with SKIP LOCKED a re-run skips the rows just locked and
        # hands back others (more than `limit` rows claimed).
        due = due.with_for_update(skip_locked=True)
        picked = due.cte("due").prefix_with("MATERIALIZED")
        ids: Any = select(picked.c.id).scalar_subquery()
    else:
        ids = due.scalar_subquery()
    claimed = session.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids), Delivery.status == DeliveryStatus.PENDING)
        .values(
            status=DeliveryStatus.CLAIMED,
            lease_until=lease_until,
            claimed_at=now,
            attempts=Delivery.attempts + 1,
        )
        .returning(
            Delivery.id,
            Delivery.edition_id,
            Delivery.subscriber_id,
            Delivery.recipient,
            Delivery.attempts,
        )
        .execution_options(synchronize_session=False)
    ).all()
    if not claimed:
        return []
    subscriber_ids = {row.subscriber_id for row in claimed}
    sections: dict[int, list[str] | None] = {
        sid: chosen
        for sid, chosen in session.execute(
            select(Subscriber.id, Subscriber.sections).where(Subscriber.id.in_(subscriber_ids))
        )
    }
    return [
        ClaimedDelivery(
            id=row.id,
            edition_id=row.edition_id,
            subscriber_id=row.subscriber_id,
            recipient=row.recipient,
            attempts=row.attempts,
            sections=tuple(sections.get(row.subscriber_id) or ()),
            lease_until=lease_until,
        )
        for row in sorted(claimed, key=lambda r: r.id)
    ]


def set_async_commit(session: Session, on: bool) -> None:
    """Commits of this session's connection stop (or start again) waiting for the WAL
    flush, on PostgreSQL: for the connection a sending thread keeps for its per-message
    commits, which would otherwise each wait for a disk flush.

    Nothing is lost when PostgreSQL stops or restarts cleanly (it flushes first) or
    when a worker dies; only a crash of the database server itself (power loss, kill -9
    of postgres) can lose the last ~0.6 s of these commits. Rows then read as the step
    before: a lost `sent` leaves `sending` (swept to unsure), a lost `sending` leaves
    `claimed`, which the sweep gives back to pending, so a message that went out in
    that instant goes out again.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_ASYNC_COMMIT if on else _SYNC_COMMIT)


def mark_progress(
    db: Session | Connection,
    *,
    sent: SentDelivery | None,
    sending: ClaimedDelivery | None,
    message_id: str | None = None,
) -> bool:
    """One UPDATE per message: the previous message sent, this one sending.

    Committed just before the end of DATA goes out, so a crash leaves at most this one
    row in `sending` (the sweep makes it unsure), and the window in which a delivered
    message is not yet recorded is the previous 250 -> this commit. ``message_id`` is
    the Message-ID of ``sending``: should it end unsure, the operator looks for it in
    the mail server's log.

    ``db`` may be a bare Connection (a sending thread's, in autocommit: the statement
    is its own transaction). On PostgreSQL the statement goes to the driver directly,
    as a prepared statement: through SQLAlchemy it cost 3-4 times the UPDATE itself.

    Returns False when ``sending`` is no longer this batch's claim (its lease expired and
    the sweep gave it away): the caller must not send it.
    """
    if sent is None and sending is None:
        return True
    params = {
        "prev_id": sent.id if sent else -1,  # -1: no row
        "sent_at": sent.at if sent else None,
        "smtp_code": sent.smtp_code if sent else None,
        "prev_message_id": sent.message_id if sent else None,
        "cur_id": sending.id if sending else -1,
        "lease": sending.lease_until if sending else None,
        "cur_message_id": message_id,
    }
    conn = db.connection() if isinstance(db, Session) else db
    if conn.dialect.name == "postgresql":
        updated = [row[0] for row in execute_prepared(conn, _PROGRESS_PG, params)]
    else:
        updated = list(conn.execute(_PROGRESS, params).scalars())
    return sending is None or sending.id in updated


# mark_progress's statement, built once: it runs once per message, and building it
# each time cost more than running it.
_IS_PREV = _TABLE.c.id == bindparam("prev_id")
_PROGRESS = (
    update(_TABLE)
    .where(
        or_(
            and_(_IS_PREV, _TABLE.c.status.in_((DeliveryStatus.SENDING, DeliveryStatus.UNSURE))),
            and_(
                _TABLE.c.id == bindparam("cur_id"),
                _TABLE.c.status == DeliveryStatus.CLAIMED,
                _TABLE.c.lease_until == bindparam("lease", type_=UTCDateTime()),
            ),
        )
    )
    .values(
        status=case((_IS_PREV, DeliveryStatus.SENT), else_=DeliveryStatus.SENDING),
        message_id=case(
            (_IS_PREV, bindparam("prev_message_id", type_=String())),
            else_=func.coalesce(bindparam("cur_message_id", type_=String()), _TABLE.c.message_id),
        ),
        sent_at=case((_IS_PREV, bindparam("sent_at", type_=UTCDateTime())), else_=_TABLE.c.sent_at),
        smtp_code=case(
            (_IS_PREV, bindparam("smtp_code", type_=Integer())), else_=_TABLE.c.smtp_code
        ),
        last_error=case((_IS_PREV, null()), else_=_TABLE.c.last_error),
    )
    .returning(_TABLE.c.id)
)


# The same statement for the driver itself (PostgreSQL, psycopg's placeholders); the
# parameters of mark_progress, datetimes aware (UTCDateTime's rule). The status tests sit
# in a CASE, where no index can serve them: prepared, the statement runs on a generic
# plan, which for a plain OR of the two cases took `status = 'claimed'` for the rarest
# value (it is, when the table was last analyzed) and read every claimed row's index
# entries, live and dead, each time (7 ms, against 0.05 ms by the primary key).
_PROGRESS_PG = f"""
UPDATE delivery SET
    status = CASE WHEN id = %(prev_id)s THEN '{DeliveryStatus.SENT}'
        ELSE '{DeliveryStatus.SENDING}' END,
    message_id = CASE WHEN id = %(prev_id)s THEN %(prev_message_id)s::varchar
        ELSE coalesce(%(cur_message_id)s::varchar, message_id) END,
    sent_at = CASE WHEN id = %(prev_id)s THEN %(sent_at)s::timestamptz ELSE sent_at END,
    smtp_code = CASE WHEN id = %(prev_id)s THEN %(smtp_code)s::integer ELSE smtp_code END,
    last_error = CASE WHEN id = %(prev_id)s THEN NULL ELSE last_error END
WHERE id IN (%(prev_id)s, %(cur_id)s) AND CASE WHEN id = %(prev_id)s
    THEN status IN ('{DeliveryStatus.SENDING}', '{DeliveryStatus.UNSURE}')
    ELSE status = '{DeliveryStatus.CLAIMED}' AND lease_until = %(lease)s::timestamptz END
RETURNING id
"""

_RESULT_VALUES: dict[DeliveryStatus, tuple[str, ...]] = {
    DeliveryStatus.SENT: ("sent_at", "message_id", "smtp_code", "last_error"),
    DeliveryStatus.PENDING: ("not_before", "smtp_code", "last_error"),
    DeliveryStatus.FAILED: ("smtp_code", "last_error"),
    DeliveryStatus.UNSURE: ("smtp_code", "last_error"),
}
# A row the batch holds; a 250 may also land on a row the sweep already made unsure.
_RESULT_FROM: dict[DeliveryStatus, tuple[DeliveryStatus, ...]] = {
    DeliveryStatus.SENT: (DeliveryStatus.CLAIMED, DeliveryStatus.SENDING, DeliveryStatus.UNSURE),
    DeliveryStatus.PENDING: (DeliveryStatus.CLAIMED, DeliveryStatus.SENDING),
    DeliveryStatus.FAILED: (DeliveryStatus.CLAIMED, DeliveryStatus.SENDING),
    DeliveryStatus.UNSURE: (DeliveryStatus.CLAIMED, DeliveryStatus.SENDING),
}


def _result_params(result: DeliveryResult) -> dict[str, Any]:
    # Bound names must differ from the column names an UPDATE sets.
    return {
        "b_id": result.id,
        "b_sent_at": result.at,
        "b_message_id": result.message_id,
        "b_smtp_code": result.smtp_code,
        "b_last_error": result.error[:ERROR_LENGTH] if result.error else None,
        "b_not_before": result.not_before,
    }


def record_outcomes(session: Session, results: Sequence[DeliveryResult]) -> None:
    """Record many attempts' outcomes: one executemany UPDATE per kind of outcome."""
    for status, columns in _RESULT_VALUES.items():
        params = [_result_params(r) for r in results if r.status == status]
        if not params:
            continue
        stmt = (
            update(_TABLE)
            .where(
                _TABLE.c.id == bindparam("b_id"),
                # OR, not IN: an expanding IN cannot go in an executemany.
                or_(*(_TABLE.c.status == s for s in _RESULT_FROM[status])),
            )
            .values(status=status, **{c: bindparam(f"b_{c}") for c in columns})
        )
        keys = ("b_id", *(f"b_{c}" for c in columns))
        session.execute(stmt, [{k: p[k] for k in keys} for p in params])


def release(
    session: Session,
    ids: Iterable[int],
    *,
    not_before: datetime | None = None,
    error: str | None = None,
) -> int:
    """Claimed deliveries back to pending: nothing of them was sent, so the claim's
    attempt is not counted. ``not_before`` defers them (a domain slowed down)."""
    id_list = list(ids)
    if not id_list:
        return 0
    values: dict[str, Any] = {
        "status": DeliveryStatus.PENDING,
        "attempts": case((Delivery.attempts > 0, Delivery.attempts - 1), else_=0),
        "not_before": not_before,
    }
    if error is not None:
        values["last_error"] = error[:ERROR_LENGTH]
    result = session.execute(
        update(Delivery)
        .where(Delivery.id.in_(id_list), Delivery.status == DeliveryStatus.CLAIMED)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result)


def sweep(session: Session, now: datetime) -> SweepResult:
    """Expired claims back to pending, expired `sending` rows to unsure; what is left.

    A claim expires when the batch that took it died (a killed worker, a lost
    machine): a claimed row had no byte sent, so it is simply due again; a sending
    row may have reached the server, so it is never resent without the operator.
    """
    expired = and_(Delivery.lease_until.is_not(None), Delivery.lease_until < now)
    released = session.execute(
        update(Delivery)
        .where(Delivery.status == DeliveryStatus.CLAIMED, expired)
        .values(status=DeliveryStatus.PENDING, last_error="lease expired: the batch stopped")
        .execution_options(synchronize_session=False)
    )
    unsure = session.execute(
        update(Delivery)
        .where(Delivery.status == DeliveryStatus.SENDING, expired)
        .values(
            status=DeliveryStatus.UNSURE,
            last_error="lease expired while sending: the message may have arrived",
        )
        .execution_options(synchronize_session=False)
    )
    # Pending rows of readers no longer active are closed, so nothing waits on them.
    session.execute(
        update(Delivery)
        .where(Delivery.status == DeliveryStatus.PENDING, ~_reader_active())
        .values(status=DeliveryStatus.FAILED, last_error="not sent: the reader is no longer active")
        .execution_options(synchronize_session=False)
    )
    due = session.scalar(select(func.count()).select_from(Delivery).where(_due(now))) or 0
    active = (
        session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(
                Delivery.status.in_((DeliveryStatus.CLAIMED, DeliveryStatus.SENDING)),
                Delivery.lease_until >= now,
            )
        )
        or 0
    )
    return SweepResult(_rowcount(released), _rowcount(unsure), int(due), int(active))


def unsure_deliveries(session: Session, edition_id: int) -> list[UnsureDelivery]:
    rows = session.execute(
        select(
            Delivery.id,
            Delivery.recipient,
            Delivery.message_id,
            Delivery.claimed_at,
            Delivery.last_error,
        )
        .where(Delivery.edition_id == edition_id, Delivery.status == DeliveryStatus.UNSURE)
        .order_by(Delivery.id)
    )
    return [UnsureDelivery(*row) for row in rows]


def resend_unsure(session: Session, ids: Iterable[int], now: datetime) -> list[int]:
    """The operator says these unsure deliveries never arrived: send them again.

    Returns the ids changed (others were not unsure).
    """
    return _resolve_unsure(
        session,
        ids,
        status=DeliveryStatus.PENDING,
        not_before=None,
        last_error=f"resent by the operator at {now.isoformat(timespec='seconds')}",
    )


def mark_unsure_sent(session: Session, ids: Iterable[int], now: datetime) -> list[int]:
    """The operator says these unsure deliveries arrived (the mail log shows it)."""
    return _resolve_unsure(session, ids, status=DeliveryStatus.SENT, sent_at=now, last_error=None)


def _resolve_unsure(session: Session, ids: Iterable[int], **values: Any) -> list[int]:
    id_list = list(ids)
    if not id_list:
        return []
    changed = session.execute(
        update(Delivery)
        .where(Delivery.id.in_(id_list), Delivery.status == DeliveryStatus.UNSURE)
        .values(**values)
        .returning(Delivery.id)
        .execution_options(synchronize_session=False)
    ).scalars()
    return sorted(changed)


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def delivery_counts(session: Session, edition_id: int) -> dict[str, int]:
    rows = session.execute(
        select(Delivery.status, func.count())
        .where(Delivery.edition_id == edition_id)
        .group_by(Delivery.status)
    ).all()
    return {status: count for status, count in rows}


def create_due_deliveries(session: Session, edition: Edition, now: datetime) -> int:
    """Pending deliveries of `edition` for the active subscribers whose morning it now is."""
    from zoneinfo import ZoneInfo

    from brief.sendtime import is_due

    have = select(Delivery.subscriber_id).where(Delivery.edition_id == edition.id)
    waiting = session.execute(
        select(Subscriber.id, Subscriber.timezone, Subscriber.delivery_hour).where(
            Subscriber.status == SubscriberStatus.ACTIVE, Subscriber.id.not_in(have)
        )
    ).all()
    due = [
        sid for sid, zone, hour in waiting if is_due(now, edition.created_at, ZoneInfo(zone), hour)
    ]
    inserted = sum(
        _insert_pending(session, edition.id, now, Subscriber.id.in_(due[i : i + IDS_PER_INSERT]))
        for i in range(0, len(due), IDS_PER_INSERT)
    )
    return _analyze_after(session, inserted)
