"""The fault tests' stack: a send to a few thousand readers through real processes.

A ``Stack`` is a private Redis (the broker) and PostgreSQL (tests/instances.py), a
FaultSMTPServer in this process, one ``celery beat`` and two ``celery worker``
processes (two pool processes each), all configured through BRIEF_* variables as
in production, with short leases, retries and sweeps so that a fault costs seconds.

A test seeds readers and an edition, queues ``brief.send_edition`` as an operator's
send does, breaks something while the mail goes out, waits until every delivery is
final, plays the operator's procedure for unsure deliveries through the real CLI
(``brief editions show``, the relay's log, ``mark-sent`` or ``resend``), and checks
every address: exactly one copy, or none and a failed row for a refused address.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from celery import Celery
from sqlalchemy import func, insert, select, text

from brief import store
from brief.db import make_engine, migrate, session_scope
from brief.editions import build_edition
from brief.models import Delivery, Subscriber
from brief.types import SubscriberStatus
from tests.factories import CTX, add_feed_with_articles, plan
from tests.faultsmtp import Faults, FaultSMTPServer
from tests.instances import REPO, CeleryProcess, PostgresInstance, RedisInstance
from tests.wait import wait_until

SECTIONS = ["world", "business", "science"]
# Each reader gets one of these section choices: three variants of the edition.
VARIANTS: list[list[str] | None] = [None, ["business"], ["world", "science"]]
DOMAINS = 20  # readers are spread over this many domains (a 421 slows only one)
FINAL = {"sent", "failed", "unsure"}
PROGRESS_EVERY = 3.0  # seconds between progress lines while a test waits

# Short times, so that a fault costs seconds: a killed batch's claims come back after
# the lease (30 s, the shortest allowed), a 4xx is retried after 2 s, and the beat
# sweeps every 2 s.
BASE_ENV = {
    "BRIEF_FROM": "Daily Brief <brief@brief.test>",
    "BRIEF_BASE_URL": "https://brief.test",
    "BRIEF_SECRET_KEY": "fault-test-secret",
    "BRIEF_TIMEZONE": "UTC",
    "BRIEF_SECTIONS": ",".join(SECTIONS),
    "BRIEF_SEND_LEASE_SECONDS": "30",
    "BRIEF_SEND_RETRY_SECONDS": "2",
    "BRIEF_SEND_SWEEP_SECONDS": "2",
    "BRIEF_SEND_BATCH_SIZE": "100",
    "BRIEF_SMTP_CONNECTIONS": "4",
}


def address(n: int) -> str:
    return f"reader{n}@d{n % DOMAINS}.test"


@dataclass
class Trial:
    """What one fault test saw: printed by the test and in pytest's summary."""

    name: str
    readers: int = 0
    seconds: float = 0.0
    sent: int = 0
    failed: int = 0
    lost: int = 0
    duplicated: int = 0
    unsure: int = 0  # rows the operator had to look up
    found: int = 0  # ...whose Message-ID was in the relay's log: marked sent
    not_found: int = 0  # ...and were not: resent
    notes: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        notes = " ".join(f"{k}={v}" for k, v in self.notes.items())
        return (
            f"{self.name}: {self.readers} readers in {self.seconds:.1f} s; sent {self.sent}, "
            f"failed {self.failed}, lost {self.lost}, duplicated {self.duplicated}; "
            f"unsure {self.unsure} (found {self.found}, not found {self.not_found}) {notes}"
        ).rstrip()


TRIALS: list[Trial] = []  # every trial of this session, for the terminal summary


class Stack:
    """The running processes and what a test does with them (see the module docstring)."""

    def __init__(
        self,
        tmp: Path,
        redis: RedisInstance,
        postgres: PostgresInstance,
        smtp: FaultSMTPServer,
        env: Mapping[str, str],
    ) -> None:
        self.tmp = tmp
        self.redis = redis
        self.postgres = postgres
        self.smtp = smtp
        self.env = dict(env)
        self.engine = make_engine(postgres.url)
        self.workers: list[CeleryProcess] = []
        self.beat: CeleryProcess | None = None
        self.started = time.monotonic()
        self._worker_count = 0
        self._shown = 0.0

    # Processes.

    def start_worker(self) -> CeleryProcess:
        self._worker_count += 1
        n = self._worker_count
        worker = CeleryProcess.worker(self.tmp / f"worker{n}.log", self.env, name=f"fault{n}")
        self.workers.append(worker)  # stopped by stop_processes, whatever happens
        worker.start()
        return worker

    def start_beat(self) -> CeleryProcess:
        self.beat = CeleryProcess.beat(self.tmp / "beat.log", self.env, self.tmp / "beat-schedule")
        self.beat.start()
        return self.beat

    def stop_processes(self) -> None:
        """Every worker and the beat: all asked to stop at once, then waited for."""
        processes = [*self.workers, *([self.beat] if self.beat else [])]
        for process in processes:
            process.terminate()
        for process in processes:
            process.stop()

    def live_workers(self) -> list[CeleryProcess]:
        return [w for w in self.workers if w.alive]

    def check_alive(self) -> None:
        for process in [*self.live_workers(), *([self.beat] if self.beat else [])]:
            process.check_alive()

    def logs(self, chars: int = 3000) -> str:
        parts = [f"--- {w.log.name}:\n{w.tail(chars)}" for w in self.workers[-3:]]
        if self.beat is not None:
            parts.append(f"--- beat.log:\n{self.beat.tail(1000)}")
        return "\n".join(parts)

    # The send.

    def seed(self, readers: int) -> tuple[int, list[str]]:
        """Readers (three section choices, DOMAINS domains) and today's edition."""
        now = datetime.now(UTC)
        addresses = [address(n) for n in range(readers)]
        with session_scope(self.engine) as session:
            for section in SECTIONS:
                add_feed_with_articles(
                    session,
                    f"https://{section}.test/feed",
                    section,
                    [f"{section.title()} story {i}" for i in range(3)],
                    now=now,
                )
            session.execute(
                insert(Subscriber),
                [
                    {
                        "email": a,
                        "status": SubscriberStatus.ACTIVE,
                        "timezone": "UTC",
                        "sections": VARIANTS[n % len(VARIANTS)],
                        "created_at": now,
                        "confirmed_at": now,
                    }
                    for n, a in enumerate(addresses)
                ],
            )
            edition, _ = build_edition(session, plan(SECTIONS), CTX, day=now.date(), now=now)
            edition_id = edition.id
        return edition_id, addresses

    def send(self, edition_id: int) -> None:
        """Queue the edition's send as `POST /api/editions/{id}/send` does."""
        client = Celery(broker=self.redis.url)
        try:
            client.send_task("brief.send_edition", args=[edition_id])
        finally:
            client.close()

    def statuses(self) -> Counter[str]:
        with session_scope(self.engine) as session:
            rows = session.execute(select(Delivery.status, func.count()).group_by(Delivery.status))
            return Counter({status: count for status, count in rows})

    def attempts(self) -> dict[str, int]:
        """How many times each delivery was tried (claimed and started), by recipient."""
        with session_scope(self.engine) as session:
            return dict(session.execute(select(Delivery.recipient, Delivery.attempts)).all())

    def wait_taken(self, count: int, timeout: float = 120) -> None:
        """Until the SMTP server has taken ``count`` messages."""
        self.wait(lambda: len(self.smtp.taken) >= count, timeout, f"{count} messages taken")

    def wait_final(self, expected: int, timeout: float = 180) -> Counter[str]:
        """Until ``expected`` deliveries exist and each is sent, failed or unsure."""

        def final() -> Counter[str] | None:
            counts = self.statuses()
            done = sum(counts.values()) == expected and set(counts) <= FINAL
            return counts if done else None

        return self.wait(final, timeout, lambda: f"every delivery final; now {self.statuses()}")

    def wait(
        self, predicate: Callable[[], Any], timeout: float, what: str | Callable[[], str]
    ) -> Any:
        """Poll ``predicate`` while the processes live; their logs' ends on a timeout."""

        def check() -> Any:
            self.check_alive()
            self._progress()
            return predicate()

        def described() -> str:
            detail = what() if callable(what) else what
            return f"{detail}; taken {len(self.smtp.taken)}\n{self.logs()}"

        return wait_until(check, timeout, interval=0.2, what=described)

    def _progress(self) -> None:
        """Every few seconds, a line of where the send is (shown with -s or on failure)."""
        now = time.monotonic()
        if now - self._shown < PROGRESS_EVERY:
            return
        self._shown = now
        with session_scope(self.engine) as session:
            waiting = session.scalar(
                select(func.count()).where(
                    Delivery.status == "pending", Delivery.not_before > datetime.now(UTC)
                )
            )
        print(
            f"  {now - self.started:6.1f} s  taken {len(self.smtp.taken):>5}  "
            f"{dict(self.statuses())}  pending not yet due {waiting}"
        )

    def running_batches(self, worker: CeleryProcess) -> int:
        """send_batch tasks the worker has started and not finished (by its log)."""
        log = worker.text()
        started = set(re.findall(r"Task brief\.send_batch\[([0-9a-f-]+)\] received", log))
        ended = set(
            re.findall(r"Task brief\.send_batch\[([0-9a-f-]+)\] (?:succeeded|retry|raised)", log)
        )
        return len(started - ended)

    # The operator.

    def cli(self, *args: str) -> str:
        """``brief <args>`` as the operator runs it, against the stack's database."""
        done = subprocess.run(
            [sys.executable, "-m", "brief.cli", *args],
            cwd=REPO,
            env={**self.env, "PYTHONPATH": str(REPO)},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise AssertionError(f"brief {' '.join(args)} exited {done.returncode}:\n{done}")
        return done.stdout

    def resolve_unsure(self, edition_id: int, trial: Trial) -> None:
        """The README's procedure: `brief editions show` lists the unsure deliveries with
        their Message-IDs; each one found in the relay's log is marked sent, the others
        are resent. Here the relay's log is what the FaultSMTPServer took."""
        with session_scope(self.engine) as session:
            unsure = store.unsure_deliveries(session, edition_id)
        if not unsure:
            return  # nothing for the operator (and each CLI run costs seconds here)
        shown = self.cli("editions", "show", str(edition_id))
        rows = re.findall(r"^\s+(\d+)\s+(\S+@\S+)\s+(<\S+>)\s", shown, re.MULTILINE)
        assert len(rows) == len(unsure), f"editions show lists {len(rows)} of {len(unsure)}"
        in_log = {t.message_id for t in self.smtp.taken}
        found = [int(i) for i, _, message_id in rows if message_id in in_log]
        missing = [int(i) for i, _, message_id in rows if message_id not in in_log]
        if found:
            self.cli("editions", "mark-sent", *map(str, found))
        if missing:
            self.cli("editions", "resend", *map(str, missing))
        trial.unsure += len(rows)
        trial.found += len(found)
        trial.not_found += len(missing)

    # The verdict.

    def check(self, addresses: list[str], trial: Trial, *, refused: Collection[str] = ()) -> None:
        """Every address has exactly one copy and a `sent` row, or (refused ones) no copy,
        a `failed` row and a bounced reader."""
        copies = self.smtp.copies()
        with session_scope(self.engine) as session:
            rows = dict(session.execute(select(Delivery.recipient, Delivery.status)).all())
            readers = dict(session.execute(select(Subscriber.email, Subscriber.status)).all())
        refused = set(refused)
        trial.readers = len(addresses)
        trial.sent = sum(s == "sent" for s in rows.values())
        trial.failed = sum(s == "failed" for s in rows.values())
        trial.lost = sum(1 for a in addresses if a not in refused and copies[a] == 0)
        trial.duplicated = sum(1 for a in addresses if copies[a] > 1)
        trial.seconds = time.monotonic() - self.started
        TRIALS.append(trial)
        print(f"\n{trial.line()}")
        wrong = {
            a: (copies[a], rows.get(a))
            for a in addresses
            if (copies[a], rows.get(a)) != ((0, "failed") if a in refused else (1, "sent"))
        }
        assert not wrong, f"{len(wrong)} addresses wrong (copies, status): {_some(wrong)}"
        assert set(copies) <= set(addresses), "mail to an address nobody subscribed"
        bounced = {a for a in refused if readers[a] != SubscriberStatus.BOUNCED}
        assert not bounced, f"refused readers not bounced: {_some(bounced)}"

    def run_operator_and_check(
        self,
        edition_id: int,
        addresses: list[str],
        trial: Trial,
        *,
        refused: Collection[str] = (),
        timeout: float = 180,
    ) -> None:
        """Wait for every delivery to be final, resolve the unsure ones, wait again, check."""
        self.wait_final(len(addresses), timeout)
        self.resolve_unsure(edition_id, trial)
        self.wait_final(len(addresses), timeout)
        self.check(addresses, trial, refused=refused)


def _some(items: Any, n: int = 10) -> str:
    listed = list(items.items() if isinstance(items, dict) else items)
    return f"{listed[:n]}{' ...' if len(listed) > n else ''}"


def reset_database(url: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        migrate(engine)
    finally:
        engine.dispose()


@contextmanager
def running_stack(
    tmp: Path,
    postgres: PostgresInstance,
    faults: Faults | None = None,
    *,
    env: Mapping[str, str] | None = None,
    smtp_timeout: float = 10.0,
    workers: int = 2,
) -> Iterator[Stack]:
    """Redis, the SMTP server, a beat and ``workers`` workers on ``postgres`` (emptied)."""
    reset_database(postgres.url)
    with ExitStack() as exits:
        redis = exits.enter_context(RedisInstance(tmp))
        smtp = exits.enter_context(FaultSMTPServer(faults))
        full_env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("BRIEF_")},
            "BRIEF_ENV_FILE": "",
            "BRIEF_DATA_DIR": str(tmp / "data"),
            "BRIEF_DATABASE_URL": postgres.url,
            "BRIEF_BROKER_URL": redis.url,
            "BRIEF_SMTP_URL": f"smtp://{smtp.host}:{smtp.port}?timeout={smtp_timeout}",
            **BASE_ENV,
            **(env or {}),
        }
        stack = Stack(tmp, redis, postgres, smtp, full_env)
        exits.callback(stack.engine.dispose)
        exits.callback(stack.stop_processes)
        started = [stack.start_worker() for _ in range(workers)]
        stack.start_beat()
        for worker in started:
            worker.wait_ready()
        stack.started = time.monotonic()
        yield stack
