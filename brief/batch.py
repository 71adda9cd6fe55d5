"""The batched sender: claim due deliveries, send them over parallel SMTP sessions, record.

Every send of an edition takes this path (`brief run`, `brief digest send`, the Celery
`send_batch` task that `send_due`, `send_edition`, the API and the welcome queue):

1. claim: one UPDATE takes up to `batch_size` due pending rows (claimed, with a lease);
2. prepare: each edition variant (edition x the subscriber's sections) is rendered once
   (a process-wide LRU), then each message only fills in its personal parts;
3. send: `connections` threads, each with its own SMTP session and its own database
   session, take the rows one by one. Per message, one transaction commits the previous
   message `sent` and this one `sending`, after the server's 354 and before the final
   "." (the session's ``before_end``), so at most one row per connection is ever
   `sending`, and a message the server accepted is unrecorded only from its 250 to the
   next commit. Other outcomes ride along in the same transaction;
4. repeat until nothing is due, or the time budget is spent, or we are asked to stop;
   the next batch is claimed when half of this one is left, so no connection waits.

What each reply does to the row (brief.types.DeliveryStatus):
- sent: `sent`;
- transient (4xx, a drop before the end of DATA): `pending` again with `not_before`
  (back-off per attempt). A 421 or a 4xx to MAIL FROM also slows that recipient domain
  down, and so do ten 4xx to RCPT TO from one domain in a row; a single recipient's
  4xx (greylisting) delays only that recipient;
- permanent (5xx): `on_refused` (the row `failed`; bounce handling hangs off it);
- unsure (a timeout or drop after the end of DATA was sent): `unsure`, never resent
  by itself: `brief editions show` lists them for the operator.

Faults: a database error while recording is retried with back-off, outcomes kept in
memory, until the lease nears its end (a database restart delays mail, never drops a
250). A stop (Celery's soft time limit, Ctrl-C) lets each connection finish the message
on the wire, records everything, and gives the rows not started back to pending. A
worker that dies leaves its rows to the sweep: claimed ones go back to pending (no byte
of them was sent), the `sending` one becomes unsure.
"""

from __future__ import annotations

import hashlib
import json
import logging
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from brief import store
from brief.db import session_factory, session_scope
from brief.delivery import DeliveryOutcome, edition_digest
from brief.errors import InputError
from brief.mail.message import make_message_id
from brief.mail.prepared import PreparedMessage, personalize, prepare_digest
from brief.mail.smtp_session import SendOutcome, SendReply
from brief.sendrate import Allowance, MemorySendRate, SendRate
from brief.store import ClaimedDelivery, DeliveryResult, SentDelivery
from brief.tokens import Links
from brief.types import DeliveryStatus, SendStatus, SiteContext

log = logging.getLogger(__name__)

RETRY_BASE = 60.0  # seconds before a transient failure's first retry; doubled per attempt
RETRY_MAX = 3600.0
MAX_ATTEMPTS = 10  # a recipient answering 4xx this many times in a row: failed for good
DOMAIN_BACKOFF = 30.0  # a busy domain waits this long (sendrate doubles repeats)
REFUSALS_SLOW_DOMAIN = 10  # recipient 4xx in a row that mean the domain, not the recipients
MAX_RATE_WAIT = 2.0  # a row waiting longer for its domain goes back to pending meanwhile
LEASE_MARGIN = 60.0  # stop sending a batch's rows this long before its lease ends
LEASE_MARGIN_SHARE = 0.2  # ...or this share of the lease, when that is shorter
BEFORE_END_RETRY = 60.0  # the server waits in DATA at most this long for our commit
DB_ERRORS = (OperationalError, InterfaceError)  # the database is down or restarting


class MailSession(Protocol):
    """One connection that sends many messages (brief.mail.smtp_session.SMTPSession)."""

    def send(
        self,
        envelope_from: str,
        recipient: str,
        data: bytes,
        *,
        before_end: Callable[[], None] | None = None,
    ) -> SendReply: ...


OpenSession = Callable[[], AbstractContextManager[MailSession]]
Refused = Callable[[Session, ClaimedDelivery, SendReply], None]


def mark_failed(session: Session, delivery: ClaimedDelivery, reply: SendReply) -> None:
    """What a 5xx does to the delivery (bounce handling adds to it): failed for good."""
    store.record_outcomes(
        session,
        [
            DeliveryResult(
                delivery.id,
                DeliveryStatus.FAILED,
                datetime.now(UTC),
                reply.code,
                _reply_text(reply),
            )
        ],
    )


def _no_limit() -> SendRate:
    return MemorySendRate(rate=0, domain_rate=0)


@dataclass(frozen=True)
class Mailer:
    """What a batch sends with: sessions to open, the site, and the seams around a send."""

    open_session: OpenSession
    ctx: SiteContext
    where: str  # "smtp://host:port", the outbox folder: shown with each outcome
    rate: SendRate = field(default_factory=_no_limit)
    rate_chunk: int = 1  # tokens an Allowance takes at once (sendrate.chunk_size)
    envelope_from: Callable[[int], str] | None = None  # delivery id -> MAIL FROM; None: From
    sign: Callable[[bytes], bytes] | None = None  # DKIM, on the personalized bytes
    on_refused: Refused = mark_failed

    def envelope(self, delivery_id: int) -> str:
        if self.envelope_from is None:
            return self.ctx.mail_from_address
        return self.envelope_from(delivery_id)


@dataclass(frozen=True)
class BatchConfig:
    batch_size: int = 200
    connections: int = 4
    lease: timedelta = timedelta(minutes=10)
    budget: float | None = None  # seconds: claim no new batch after this long
    edition_id: int | None = None  # only this edition's deliveries
    retry_base: float = RETRY_BASE  # seconds before a transient failure's first retry


@dataclass
class BatchReport:
    claimed: int = 0
    counts: dict[SendStatus, int] = field(default_factory=dict)
    stopped: str | None = None  # why the loop ended before nothing was due

    def count(self, status: SendStatus) -> int:
        return self.counts.get(status, 0)


class _LostClaim(Exception):
    """The row is no longer this batch's (its lease expired and was swept): not sent."""


# -- edition variants, rendered once per process ------------------------------------------


@dataclass(frozen=True)
class _Variant:
    edition_date: date
    prepared: PreparedMessage


_VARIANTS: OrderedDict[tuple[object, ...], _Variant] = OrderedDict()
_VARIANTS_LOCK = threading.Lock()
VARIANTS_KEPT = 32


def _variant(
    session: Session, edition_id: int, sections: tuple[str, ...], ctx: SiteContext, now: datetime
) -> _Variant:
    """The edition rendered for these sections, from the process's cache when it has it.

    The key holds a digest of the edition's content, not only its id: a rebuilt edition
    may reuse a deleted one's id (SQLite does), and must be rendered anew.
    """
    edition = store.get_edition(session, edition_id)
    content = json.dumps(
        [edition.date.isoformat(), edition.window_start.isoformat(), edition.stories],
        sort_keys=True,
        default=str,
    )
    key = (edition.id, hashlib.sha256(content.encode()).digest(), sections, ctx)
    with _VARIANTS_LOCK:
        found = _VARIANTS.get(key)
        if found is not None:
            _VARIANTS.move_to_end(key)
            return found
    digest = edition_digest(edition).for_sections(list(sections) or None)
    prepared = prepare_digest(
        digest,
        brief_name=ctx.brief_name,
        web_url=ctx.web_url(edition.date),
        sender=ctx.mail_from,
        date=now,
        postal_address=ctx.postal_address,
    )
    variant = _Variant(edition.date, prepared)
    with _VARIANTS_LOCK:
        _VARIANTS[key] = variant
        while len(_VARIANTS) > VARIANTS_KEPT:
            _VARIANTS.popitem(last=False)
    return variant


@dataclass(frozen=True)
class _Work:
    delivery: ClaimedDelivery
    variant: _Variant
    deadline: float  # time.monotonic(): past it, the row's lease is too short to send it


def retry_delay(attempts: int, base: float = RETRY_BASE) -> timedelta:
    """The back-off after a transient failure of the `attempts`-th try."""
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), RETRY_MAX))


def _reply_text(reply: SendReply) -> str:
    """The session's account of it ("RCPT: 550 5.1.1 No such user here")."""
    return reply.text or f"{reply.outcome.value} ({reply.code})"


def _domain(address: str) -> str:
    return address.rpartition("@")[2].lower()


# -- one connection ---------------------------------------------------------------------------


class _Connection:
    """One thread: one SMTP session, one database session, rows taken from the queue."""

    def __init__(
        self,
        engine: Engine,
        mailer: Mailer,
        work: queue.Queue[_Work],
        stop: threading.Event,
        now: Callable[[], datetime],
        on_outcome: Callable[[DeliveryOutcome], None],
        retry_base: float = RETRY_BASE,
    ) -> None:
        self.engine = engine
        self.mailer = mailer
        self.retry_base = retry_base
        self.work = work
        self.stop = stop
        self.now = now
        self.on_outcome = on_outcome
        self.links = Links(mailer.ctx.base_url, mailer.ctx.secret_key)
        self.allowance = Allowance(mailer.rate, mailer.rate_chunk)
        # Outcomes not yet committed: they ride with the next message's transaction.
        self.sent: SentDelivery | None = None
        self.results: list[DeliveryResult] = []
        self.refused: list[tuple[ClaimedDelivery, SendReply]] = []
        self.deferred: list[tuple[int, datetime]] = []
        self.refusals: dict[str, int] = {}  # domain -> recipient 4xx since its last 250
        self.unsent: list[int] = []  # claimed rows not started: the supervisor releases them
        self.deadline = float("inf")
        self.error: BaseException | None = None
        # The database connection's state: set up again after an error (a reconnect).
        self.conn: Connection | None = None
        self.async_commit = False
        self.autocommit: bool | None = None

    # The thread's body.
    def run(self) -> None:
        try:
            # Its own connection for the thread's life: checking one out of the pool per
            # message (and pinging it) cost more than the message's UPDATE.
            with (
                self.engine.connect() as conn,
                Session(bind=conn, expire_on_commit=False) as db,
            ):
                self.conn = conn
                try:
                    self._work(db)
                finally:
                    self._restore(db)
        except BaseException as exc:  # the supervisor re-raises it
            log.exception("a sending connection stopped; the batch stops with it")
            self.error = exc
            self.stop.set()
            self._drain()

    def _work(self, db: Session) -> None:
        try:
            with ExitStack() as opened:
                self._loop(db, lambda: opened.enter_context(self.mailer.open_session()))
            self._flush(db, self.deadline)
        except BaseException as exc:
            self.stop.set()
            self._drain()
            self._last_flush(db, exc)
            raise

    def _last_flush(self, db: Session, exc: BaseException) -> None:
        """Record what this thread knows before it ends on an error (once more if the
        database is the error: it was retried already)."""
        try:
            self._flush(db, time.monotonic() if isinstance(exc, DB_ERRORS) else self.deadline)
        except Exception as again:
            if self.sent is not None:
                log.error(
                    "delivery %s was accepted by the server but cannot be recorded (%s); "
                    "the sweep will mark it unsure",
                    self.sent.id,
                    again,
                )

    def _loop(self, db: Session, open_mail: Callable[[], MailSession]) -> None:
        mail: MailSession | None = None  # opened with the first message: none if no work
        while True:
            try:
                item = self.work.get_nowait()
            except queue.Empty:
                # Idle: record what is pending before waiting for more.
                self._flush(db, self.deadline)
                if self.stop.is_set():
                    return
                try:
                    item = self.work.get(timeout=0.1)
                except queue.Empty:
                    continue
            try:
                if self.stop.is_set():
                    self.unsent.append(item.delivery.id)
                else:
                    if mail is None:
                        try:
                            mail = open_mail()
                        except BaseException:
                            self.unsent.append(item.delivery.id)
                            raise
                    self._send(db, mail, item)
            finally:
                self.work.task_done()

    def _drain(self) -> None:
        while True:
            try:
                item = self.work.get_nowait()
            except queue.Empty:
                return
            self.unsent.append(item.delivery.id)
            self.work.task_done()

    def _send(self, db: Session, mail: MailSession, item: _Work) -> None:
        row = item.delivery
        self.deadline = item.deadline
        if time.monotonic() > item.deadline:
            self.unsent.append(row.id)  # its lease may end mid-send: leave it to another batch
            return
        if not self._wait_for_rate(db, row, item.deadline):
            return
        message_id = make_message_id(
            "digest", f"{item.variant.edition_date.isoformat()}.{row.id}", self.mailer.ctx.domain
        )
        try:
            data = self._compose(item, message_id)
        except InputError as exc:  # this address or link cannot make a message
            self._fail(row, None, f"cannot make the message: {exc}")
            return
        except Exception:
            log.exception("delivery %s: cannot make its message; back to pending", row.id)
            self.unsent.append(row.id)
            raise
        committed = False

        def before_end() -> None:
            nonlocal committed
            limit = min(item.deadline, time.monotonic() + BEFORE_END_RETRY)
            if not self._flush(db, limit, sending=row, message_id=message_id):
                raise _LostClaim(row.id)
            committed = True

        try:
            reply = mail.send(
                self.mailer.envelope(row.id), row.recipient, data, before_end=before_end
            )
        except _LostClaim:
            log.warning("delivery %s: its claim expired before sending; not sent here", row.id)
            return
        except BaseException as exc:
            if committed:  # the message may be on the wire: only the operator can tell
                self._record(row, DeliveryStatus.UNSURE, None, f"the send broke: {exc!r}")
            else:  # nothing of it left (the session closes a DATA it did not end)
                self.unsent.append(row.id)
            raise
        self._outcome(row, reply, committed, message_id)

    def _compose(self, item: _Work, message_id: str) -> bytes:
        row, variant = item.delivery, item.variant
        ctx = self.mailer.ctx
        data = personalize(
            variant.prepared,
            to=row.recipient,
            message_id=message_id,
            unsubscribe_url=self.links.unsubscribe(row.subscriber_id),
            preferences_url=self.links.preferences(row.subscriber_id),
            unsubscribe_mailto=ctx.unsubscribe_mailto(),
            date=self.now(),
        )
        return self.mailer.sign(data) if self.mailer.sign else data

    def _wait_for_rate(self, db: Session, row: ClaimedDelivery, deadline: float) -> bool:
        """Wait for the rate limits; False when the row went back to pending meanwhile."""
        domain = _domain(row.recipient)
        while True:
            wait = self.allowance.take(domain)
            if wait <= 0:
                return True
            if wait > MAX_RATE_WAIT or time.monotonic() + wait > deadline:
                at = self.now() + timedelta(seconds=wait)
                self.deferred.append((row.id, at))
                self._report(row, SendStatus.RETRY, f"{domain} slowed down until {at:%H:%M:%S}")
                return False
            self._flush(db, deadline)  # a 250 must not wait in memory while we sleep
            if self.stop.wait(wait):
                self.unsent.append(row.id)
                return False

    def _outcome(
        self, row: ClaimedDelivery, reply: SendReply, committed: bool, message_id: str
    ) -> None:
        domain = _domain(row.recipient)
        match reply.outcome:
            case SendOutcome.SENT:
                assert committed, "a message sent without its `sending` commit"
                self.sent = SentDelivery(row.id, message_id, self.now(), reply.code)
                self.mailer.rate.succeeded(domain)
                self.refusals.pop(domain, None)
                self._report(row, SendStatus.SENT, None)
            case SendOutcome.TRANSIENT:
                if self._slows_domain(domain, reply):
                    self.mailer.rate.backoff(domain, DOMAIN_BACKOFF)
                if reply.code is not None and row.attempts >= MAX_ATTEMPTS:
                    self._fail(row, reply, f"gave up after {row.attempts} attempts")
                    return
                not_before = self.now() + retry_delay(row.attempts, self.retry_base)
                self._record(
                    row, DeliveryStatus.PENDING, reply.code, _reply_text(reply), not_before
                )
            case SendOutcome.PERMANENT:
                self._fail(row, reply, None)
            case SendOutcome.UNSURE:
                log.warning(
                    "delivery %s to %s: unsure whether it arrived (%s); not resent",
                    row.id,
                    row.recipient,
                    _reply_text(reply),
                )
                self._record(row, DeliveryStatus.UNSURE, reply.code, _reply_text(reply))

    def _slows_domain(self, domain: str, reply: SendReply) -> bool:
        if reply.slows_domain():
            return True
        if reply.code is None:  # a drop: the session reconnects; not the domain's say
            return False
        run = self.refusals[domain] = self.refusals.get(domain, 0) + 1
        if run < REFUSALS_SLOW_DOMAIN:
            return False
        self.refusals.pop(domain)
        return True

    def _fail(self, row: ClaimedDelivery, reply: SendReply | None, note: str | None) -> None:
        text = " ".join(x for x in ((_reply_text(reply) if reply else None), note) if x)
        if reply is not None and reply.outcome == SendOutcome.PERMANENT:
            self.refused.append((row, reply))
            self._report(row, SendStatus.FAILED, text)
            return
        self._record(row, DeliveryStatus.FAILED, reply.code if reply else None, text)

    def _record(
        self,
        row: ClaimedDelivery,
        status: DeliveryStatus,
        code: int | None,
        error: str,
        not_before: datetime | None = None,
    ) -> None:
        self.results.append(
            DeliveryResult(row.id, status, self.now(), code, error, None, not_before)
        )
        shown = {
            DeliveryStatus.PENDING: SendStatus.RETRY,
            DeliveryStatus.FAILED: SendStatus.FAILED,
            DeliveryStatus.UNSURE: SendStatus.UNSURE,
        }[status]
        self._report(row, shown, error)

    def _report(self, row: ClaimedDelivery, status: SendStatus, error: str | None) -> None:
        where = self.mailer.where if status == SendStatus.SENT else ""
        self.on_outcome(DeliveryOutcome(row.id, row.recipient, status, where, error))

    # Recording, with retries while the database is away.
    def _flush(
        self,
        db: Session,
        deadline: float,
        *,
        sending: ClaimedDelivery | None = None,
        message_id: str | None = None,
    ) -> bool:
        """Commit what is pending (and `sending`, if given) in one transaction.

        Retries database errors with back-off until `deadline` (time.monotonic()), then
        raises the last one. Returns False when `sending` is no longer this batch's.
        """
        if sending is None and not self._unrecorded():
            return True
        pause = 0.1
        while True:
            try:
                lone = not (self.refused or self.results or self.deferred)
                self._mode(db, autocommit=lone)
                if lone:  # the usual case: one statement on the bare connection
                    assert self.conn is not None
                    ours = store.mark_progress(
                        self.conn, sent=self.sent, sending=sending, message_id=message_id
                    )
                    if self.conn.in_transaction():  # SQLAlchemy's own begin (SQLite)
                        self.conn.commit()
                else:
                    for row, reply in self.refused:
                        self.mailer.on_refused(db, row, reply)
                    store.record_outcomes(db, self.results)
                    for delivery_id, at in self.deferred:
                        store.release(db, [delivery_id], not_before=at, error="domain slowed down")
                    ours = store.mark_progress(
                        db, sent=self.sent, sending=sending, message_id=message_id
                    )
                    db.commit()
            except DB_ERRORS as exc:
                _rollback(db)
                self.async_commit, self.autocommit = False, None  # on the next connection
                if time.monotonic() + pause > deadline:
                    raise
                log.warning("recording deliveries failed (%s); retrying in %.1f s", exc, pause)
                time.sleep(pause)
                pause = min(pause * 2, 5.0)
                continue
            except BaseException:
                _rollback(db)
                raise
            self.sent = None
            self.results, self.refused, self.deferred = [], [], []
            return ours

    def _mode(self, db: Session, *, autocommit: bool) -> None:
        """Set the connection up for the next commit.

        A lone mark_progress (the usual case) runs in autocommit: its one statement is
        its own transaction, one round trip instead of four (BEGIN, UPDATE, COMMIT and
        the setting). Anything more (refusals, other outcomes) goes in one transaction.
        Commits do not wait for the WAL flush (store.set_async_commit says why that is
        safe enough).
        """
        assert self.conn is not None
        if not self.async_commit:
            store.set_async_commit(db, True)
            db.commit()
            self.async_commit = True
        if self.autocommit != autocommit:
            level = "AUTOCOMMIT" if autocommit else self.conn.default_isolation_level
            self.conn.execution_options(isolation_level=level)
            self.autocommit = autocommit

    def _restore(self, db: Session) -> None:
        """The connection goes back to the pool as it came (the pool resets the rest)."""
        if self.async_commit:
            with suppress(*DB_ERRORS):
                store.set_async_commit(db, False)
                db.commit()

    def _unrecorded(self) -> bool:
        return bool(self.sent or self.results or self.refused or self.deferred)


def _rollback(db: Session) -> None:
    with suppress(*DB_ERRORS):  # the connection is gone; the session gets a new one next time
        db.rollback()


# -- the supervisor ---------------------------------------------------------------------------


def send_batches(
    engine: Engine,
    mailer: Mailer,
    config: BatchConfig,
    *,
    now: Callable[[], datetime],
    on_outcome: Callable[[DeliveryOutcome], None] | None = None,
) -> BatchReport:
    """Claim and send batches until nothing is due (see the module's docstring).

    A supervisor thread claims, prepares the variants and hands rows to
    `config.connections` sending threads; the calling thread only waits. So an
    exception raised in the caller's thread at any moment (Celery's soft time limit,
    Ctrl-C) never lands in the middle of a database or SMTP exchange: it asks the
    threads to stop, they finish the message on the wire and record it, the rows not
    started go back to pending, and then it is re-raised. An error in a thread stops
    the batch too and is re-raised here. ``on_outcome`` hears each message's outcome
    (from any thread, one at a time).
    """
    run = _Run(engine, mailer, config, now, on_outcome)
    threading.Thread(target=run.supervise, name="brief-send", daemon=True).start()
    # Wait on an Event, not Thread.join: a join interrupted by a signal handler's
    # exception may take the thread for finished when it is not (CPython 3.11).
    try:
        while not run.done.wait(0.2):
            pass
    except BaseException as exc:
        run.report.stopped = f"stopped by {type(exc).__name__}"
        run.stop.set()
        while not run.done.wait(0.2):
            pass
        raise
    if run.error is not None:
        run.report.stopped = f"stopped by {type(run.error).__name__}: {run.error}"
        raise run.error
    return run.report


class _Run:
    """One send_batches call: the supervisor's state and loop."""

    def __init__(
        self,
        engine: Engine,
        mailer: Mailer,
        config: BatchConfig,
        now: Callable[[], datetime],
        on_outcome: Callable[[DeliveryOutcome], None] | None,
    ) -> None:
        self.engine = engine
        self.mailer = mailer
        self.config = config
        self.now = now
        self.on_outcome = on_outcome
        self.report = BatchReport()
        self.stop = threading.Event()
        self.done = threading.Event()  # supervise has returned: every thread is done
        self.error: BaseException | None = None
        self._lock = threading.Lock()

    def heard(self, outcome: DeliveryOutcome) -> None:
        with self._lock:
            counts = self.report.counts
            counts[outcome.status] = counts.get(outcome.status, 0) + 1
            if self.on_outcome is not None:
                self.on_outcome(outcome)

    def supervise(self) -> None:
        try:
            self._supervise()
        except BaseException as exc:  # _supervise keeps its own errors; this is a last resort
            self.error = self.error or exc
        finally:
            self.done.set()

    def _supervise(self) -> None:
        engine, config = self.engine, self.config
        work: queue.Queue[_Work] = queue.Queue()
        connections: list[_Connection] = []
        threads: list[threading.Thread] = []
        started = time.monotonic()
        lease_end = started
        in_hand: list[int] = []  # claimed, not yet handed to a thread
        margin = min(LEASE_MARGIN, LEASE_MARGIN_SHARE * config.lease.total_seconds())
        try:
            while not self.stop.is_set():
                spent = time.monotonic() - started
                if config.budget is not None and self.report.claimed and spent >= config.budget:
                    self.report.stopped = "time budget spent"
                    _wait_until_done(work, self.stop)
                    break
                claimed = _claim(engine, config, self.now())
                if not claimed:
                    if work.unfinished_tasks:  # the last rows are in flight: look once more
                        _wait_until_done(work, self.stop)
                        continue
                    break
                in_hand = [row.id for row in claimed]
                self.report.claimed += len(claimed)
                lease_end = time.monotonic() + config.lease.total_seconds()
                items = _prepare(engine, claimed, self.mailer.ctx, self.now(), lease_end - margin)
                if not threads:  # started with the first batch: nothing due, no connection
                    connections, threads = self._start(work)
                for item in items:
                    work.put(item)
                in_hand = []
                # The next batch is claimed while this one's last rows are sent, so no
                # connection waits for a claim.
                _wait_until_low(work, self.stop, max(config.batch_size // 2, 1))
        except BaseException as exc:
            self.error = exc
        finally:
            self.stop.set()
            for thread in threads:
                thread.join()
            try:
                left = in_hand + _leftovers(work, connections)
                _release(engine, left, lease_end - margin)
            except Exception as exc:  # the sweep gives them back when their lease ends
                log.exception("cannot give the rows not sent back")
                self.error = self.error or exc
        if self.error is None:
            self.error = next((c.error for c in connections if c.error is not None), None)

    def _start(self, work: queue.Queue[_Work]) -> tuple[list[_Connection], list[threading.Thread]]:
        connections = [
            _Connection(
                self.engine,
                self.mailer,
                work,
                self.stop,
                self.now,
                self.heard,
                self.config.retry_base,
            )
            for _ in range(self.config.connections)
        ]
        threads = [
            threading.Thread(target=c.run, name=f"brief-send-{n}", daemon=True)
            for n, c in enumerate(connections)
        ]
        for thread in threads:
            thread.start()
        return connections, threads


def _claim(engine: Engine, config: BatchConfig, now: datetime) -> list[ClaimedDelivery]:
    with session_scope(engine) as session:
        return store.claim_batch(
            session,
            limit=config.batch_size,
            lease=config.lease,
            now=now,
            edition_id=config.edition_id,
        )


def _prepare(
    engine: Engine,
    claimed: list[ClaimedDelivery],
    ctx: SiteContext,
    now: datetime,
    deadline: float,
) -> list[_Work]:
    """The batch's rows with their edition variant, each variant prepared once.

    A variant that cannot be prepared (a bug in a template, say) stops the batch: its
    rows go back to pending with the error, the others are released, and the error
    is raised, so the bug is seen and no mail is lost.
    """
    variants: dict[tuple[int, tuple[str, ...]], _Variant] = {}
    with session_factory(engine)() as session:
        for row in claimed:
            key = (row.edition_id, row.sections)
            if key in variants:
                continue
            try:
                variants[key] = _variant(session, row.edition_id, row.sections, ctx, now)
            except Exception as exc:
                log.exception("edition %s: cannot prepare its message; back to pending", key[0])
                _put_back(engine, claimed, key, f"{type(exc).__name__}: {exc}", now)
                raise
    return [_Work(row, variants[(row.edition_id, row.sections)], deadline) for row in claimed]


def _put_back(
    engine: Engine,
    claimed: list[ClaimedDelivery],
    key: tuple[int, tuple[str, ...]],
    error: str,
    now: datetime,
) -> None:
    tried = [r for r in claimed if (r.edition_id, r.sections) == key]
    others = [r.id for r in claimed if (r.edition_id, r.sections) != key]
    try:
        with session_scope(engine) as session:
            store.record_outcomes(
                session,
                [DeliveryResult(r.id, DeliveryStatus.PENDING, now, None, error) for r in tried],
            )
            store.release(session, others)
    except DB_ERRORS:  # the sweep gives them back when their lease ends
        log.exception("cannot put the batch back to pending; the sweep will")


def _wait_until_done(work: queue.Queue[_Work], stop: threading.Event) -> None:
    """Until every row handed out is done, or the batch is stopping (an error in a thread)."""
    with work.all_tasks_done:
        while work.unfinished_tasks and not stop.is_set():
            work.all_tasks_done.wait(0.2)


def _wait_until_low(work: queue.Queue[_Work], stop: threading.Event, low: int) -> None:
    """Until at most `low` rows wait for a connection, or the batch is stopping."""
    while work.qsize() > low and not stop.is_set():
        time.sleep(0.005)


def _leftovers(work: queue.Queue[_Work], connections: list[_Connection]) -> list[int]:
    """Rows claimed and never started: still in the queue, or set aside by a thread."""
    ids = [c_id for c in connections for c_id in c.unsent]
    while True:
        try:
            ids.append(work.get_nowait().delivery.id)
        except queue.Empty:
            return ids


def _release(engine: Engine, ids: list[int], deadline: float) -> None:
    if not ids:
        return
    pause = 0.1
    while True:
        try:
            with session_scope(engine) as session:
                store.release(session, ids)
            return
        except DB_ERRORS:
            if time.monotonic() + pause > deadline:
                log.exception("cannot give %d claimed deliveries back; the sweep will", len(ids))
                return
            time.sleep(pause)
            pause = min(pause * 2, 5.0)
