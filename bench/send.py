"""An edition to N readers through real Celery workers on Redis and PostgreSQL, into smtp-sink.

What it sets up (and takes down at the end):

- a PostgreSQL database of its own (``--database``, default ``brief_bench_send``, dropped
  first if it exists, and at the end), migrated by brief's own migrations;
- N active, confirmed readers (``--readers``, default 100,000), inserted in bulk, spread
  over four section variants (every section; world; world + business; science-tech +
  sport + culture), and the 25-story edition of the render tests
  (``tests/data/email/edition-25.json``, no corpus needed), saved with ``save_edition``;
- Postfix's ``smtp-sink -u nobody -c 127.0.0.1:PORT 1000`` on a free port; its running
  ``mesg=`` counter is read as it goes;
- one ``python -m celery -A tasks worker`` with ``--workers`` pool processes (prefork,
  default 2: one per core), ``BRIEF_SMTP_CONNECTIONS=--connections`` each, Redis as
  broker and result backend (``--redis-url``: a db of its own, emptied at start and end).

Then it sends the edition as production does: ``brief.send_edition`` (which creates the
deliveries and queues ``brief.send_batch`` tasks), polls the database until every
delivery is final, and prints:

- messages per second by the sink's count (first to last message it took) and by the
  database (first to last ``sent_at``);
- the time from the task's trigger to the last message (the delivery rows' creation
  and the workers picking the tasks up are in it);
- peak memory: the sum of PSS (``/proc/PID/smaps_rollup``) sampled every 0.5 s over the
  worker's process tree, smtp-sink, the PostgreSQL backends connected to the bench
  database and the whole redis-server (shared with whoever else uses it: it counts in
  full); not this script nor its own backend, which only watch;
- CPU per message of each of those (user + system time, from ``/proc/PID/stat``);
- then, into the same sink, ``smtp-source -c -l SIZE -m COUNT -s SESSIONS`` with SIZE the
  average size of the messages just sent (DKIM included) and SESSIONS = workers x
  connections: the rate of a C client that does nothing but SMTP, the ceiling.
  smtp-source opens a connection per message; brief keeps each open.

    python bench/send.py [--readers 100000] [--workers 2] [--connections 4]
                         [--dkim none|ed25519|rsa] [--batch-size 200]
                         [--redis-url redis://127.0.0.1:6379/2]
                         [--postgres postgresql+psycopg://postgres@127.0.0.1:5432]
                         [--database brief_bench_send] [--source-messages 20000]

Run it as root (smtp-sink drops to ``nobody``; PSS of the PostgreSQL backends needs it).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

# Run as a script, this file's folder is sys.path[0], where bench/dkim.py would hide dkimpy.
sys.path.remove(str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis
from celery import Celery
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from sqlalchemy import Connection, Engine, create_engine, func, insert, select, text

from brief import store
from brief.db import make_engine, migrate, session_scope
from brief.models import Delivery, Subscriber
from brief.types import Digest, NewEdition, Story

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
EDITION = ROOT / "tests" / "data" / "email" / "edition-25.json"
VARIANTS: tuple[list[str] | None, ...] = (
    None,
    ["world"],
    ["world", "business"],
    ["science-tech", "sport", "culture"],
)
DOMAINS = ("example.com", "example.org", "example.net", "mail.test", "inbox.test")
FINAL = {"sent", "failed", "unsure"}
SECRET = "a-bench-secret-of-at-least-32-characters!"
SAMPLE = 0.5  # seconds between memory and progress samples


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


# -- the database ---------------------------------------------------------------------------


@contextmanager
def bench_database(server: str, name: str) -> Iterator[str]:
    """A fresh database on the server; its URL. Dropped at the end."""
    admin = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield f"{server}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def edition() -> NewEdition:
    data = json.loads(EDITION.read_text(encoding="utf-8"))
    stories = [Story.from_json(item) for item in data["stories"]]
    window = (
        datetime.fromisoformat(data["window_start"]),
        datetime.fromisoformat(data["window_end"]),
    )
    digest = Digest.from_stories(date.fromisoformat(data["edition_date"]), window, stories)
    return NewEdition(
        date=digest.edition_date,
        window_start=window[0],
        window_end=window[1],
        subject="Daily Brief",
        stories=digest.stories_json(),
        html="",
        text="",
        created_at=datetime.now(UTC),
    )


def seed(engine: Engine, readers: int) -> int:
    """The readers and the edition; the edition's id."""
    now = datetime.now(UTC)
    rows = [
        {
            "email": f"reader.{n}@{DOMAINS[n % len(DOMAINS)]}",
            "status": "active",
            "timezone": "UTC",
            "sections": VARIANTS[n % len(VARIANTS)],
            "created_at": now,
            "confirmed_at": now,
        }
        for n in range(readers)
    ]
    with engine.begin() as conn:
        for start in range(0, readers, 10_000):
            conn.execute(insert(Subscriber), rows[start : start + 10_000])
    with session_scope(engine) as session:
        saved, _ = store.save_edition(session, edition())
    with engine.connect() as conn:  # as autovacuum would have long since, in production
        conn.execute(text("ANALYZE subscriber"))
        conn.commit()
    return saved.id


def counts(conn: Connection) -> dict[str, int]:
    rows = conn.execute(select(Delivery.status, func.count()).group_by(Delivery.status))
    counted = {status: n for status, n in rows}
    conn.rollback()
    return counted


# -- processes and their memory ------------------------------------------------------------------


def children(pid: int) -> list[int]:
    """``pid`` and its descendants."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                kids = Path(f"/proc/{current}/task/{tid}/children").read_text().split()
            except OSError:
                continue
            todo.extend(int(k) for k in kids)
    return found


def postgres_backends(database: str, not_pid: int) -> list[int]:
    """Backends connected to ``database`` (their title: "postgres: user db host ..."),
    but ``not_pid``."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == not_pid:
            continue
        try:
            title = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if title.startswith(b"postgres: ") and f" {database} ".encode() in title:
            pids.append(int(entry))
    return pids


def pids_named(name: str) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if Path(f"/proc/{entry}/comm").read_text().strip() == name:
                    pids.append(int(entry))
            except OSError:
                pass
    return pids


def pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Watch:
    """Samples the memory (PSS) and CPU of each group of processes while the send runs."""

    groups: dict[str, list[int] | None]  # None: found again at each sample
    database: str
    worker: int
    watcher: int  # the backend of this script's own polling: not counted
    peak_total: int = 0
    peak: dict[str, int] = field(default_factory=dict)
    cpu: dict[str, dict[int, float]] = field(default_factory=dict)
    cpu_before: dict[str, float] = field(default_factory=dict)

    def pids(self) -> dict[str, list[int]]:
        found = {name: list(p) for name, p in self.groups.items() if p is not None}
        found["workers"] = children(self.worker)
        found["postgres backends"] = postgres_backends(self.database, self.watcher)
        return found

    def sample(self) -> None:
        total = 0
        for name, pids in self.pids().items():
            kb = sum(pss_kb(p) for p in pids)
            total += kb
            self.peak[name] = max(self.peak.get(name, 0), kb)
            seen = self.cpu.setdefault(name, {})
            for p in pids:
                seen[p] = max(seen.get(p, 0.0), cpu_seconds(p))
        self.peak_total = max(self.peak_total, total)

    def start_cpu(self) -> None:
        """CPU spent before the send (start-up, the redis server's past) is not counted."""
        self.sample()
        self.cpu_before = {name: sum(seen.values()) for name, seen in self.cpu.items()}

    def cpu_spent(self, name: str) -> float:
        return sum(self.cpu.get(name, {}).values()) - self.cpu_before.get(name, 0.0)


# -- smtp-sink ------------------------------------------------------------------------------------


@dataclass
class Sink:
    """smtp-sink with -c: its stdout is a stream of "sess=N quit=N mesg=N\\r"."""

    port: int
    proc: subprocess.Popen[bytes]
    messages: int = 0
    first: float | None = None  # time.monotonic() of the first message counted
    last: float | None = None
    _mark: int = 0

    def read(self) -> None:
        assert self.proc.stdout is not None
        buffer = b""
        while chunk := self.proc.stdout.read1(65536):
            buffer += chunk
            *lines, buffer = buffer.split(b"\r")
            if lines and (match := re.search(rb"mesg=(\d+)", lines[-1])):
                count, now = int(match[1]), time.monotonic()
                if count > self.messages:
                    self.messages, self.last = count, now
                    if self.first is None:
                        self.first = now

    def mark(self) -> None:
        """Count from here (the next run into the same sink)."""
        self._mark, self.first, self.last = self.messages, None, None

    @property
    def since_mark(self) -> int:
        return self.messages - self._mark


@contextmanager
def smtp_sink() -> Iterator[Sink]:
    binary = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
    port = free_port()
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    proc = subprocess.Popen([binary, *user, "-c", f"{HOST}:{port}", "1000"], stdout=subprocess.PIPE)
    sink = Sink(port, proc)
    threading.Thread(target=sink.read, daemon=True).start()
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection((HOST, port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield sink
    finally:
        proc.terminate()
        proc.wait(10)


def smtp_source(port: int, size: int, count: int, sessions: int) -> float:
    """Seconds smtp-source takes to send ``count`` messages of ``size`` bytes."""
    binary = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
    started = time.perf_counter()
    subprocess.run(
        [binary, "-c", "-l", str(size), "-m", str(count), "-s", str(sessions), f"{HOST}:{port}"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


# -- the workers ------------------------------------------------------------------------------


def dkim_key(kind: str, folder: Path) -> Path | None:
    if kind == "none":
        return None
    key = (
        ed25519.Ed25519PrivateKey.generate()
        if kind == "ed25519"
        else rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    path = folder / f"dkim-{kind}.pem"
    path.write_bytes(
        key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption())
    )
    return path


@contextmanager
def celery_worker(env: dict[str, str], workers: int, log: Path) -> Iterator[int]:
    """The worker's main process id, once it is ready for tasks."""
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "tasks",
        "worker",
        "-l",
        "warning",
        "-c",
        str(workers),
        "-n",
        f"bench-{uuid.uuid4().hex[:8]}@%h",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_ready(client: Celery, pid: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.control.ping(timeout=0.5):
            return
        if not Path(f"/proc/{pid}").exists():
            raise SystemExit("the worker died at start; see its log")
    raise SystemExit("the worker did not answer a ping in time")


# -- the run --------------------------------------------------------------------------------------


def average_size(engine: Engine, readers: int) -> int:
    """What the sink took, per message: the DATA sizes are not in the database, so the
    message of each variant is made once here as the workers make it (DKIM adds ~0.3 KB)."""
    from brief import runtime
    from brief.config import Settings
    from brief.delivery import edition_digest
    from brief.mail.prepared import personalize, prepare_digest

    ctx = runtime.mail_context(Settings(secret_key=SECRET, base_url="https://brief.example.com"))
    with session_scope(engine) as session:
        latest = store.latest_edition(session)
        assert latest is not None
        digest = edition_digest(latest)
    sizes = []
    for variant in VARIANTS:
        prepared = prepare_digest(
            digest.for_sections(variant),
            brief_name=ctx.brief_name,
            web_url=ctx.web_url(digest.edition_date),
            sender=ctx.mail_from,
            date=datetime.now(UTC),
        )
        token = "x" * 60
        data = personalize(
            prepared,
            to="reader.12345@example.com",
            message_id="<brief.digest.2026-11-25.12345@example.com>",
            unsubscribe_url=f"https://brief.example.com/unsubscribe/{token}",
            preferences_url=f"https://brief.example.com/preferences/{token}",
            unsubscribe_mailto="unsubscribe@example.com",
        )
        sizes.append(len(data))
    return sum(sizes) // len(sizes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--readers", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2, help="Celery pool processes")
    parser.add_argument("--connections", type=int, default=4, help="SMTP connections each")
    parser.add_argument("--dkim", choices=("none", "ed25519", "rsa"), default="none")
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/2")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432")
    parser.add_argument("--database", default="brief_bench_send")
    parser.add_argument("--source-messages", type=int, default=20_000)
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait at most")
    args = parser.parse_args()

    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-send-")))
        url = stack.enter_context(bench_database(args.postgres, args.database))
        engine = make_engine(url)
        stack.callback(engine.dispose)
        migrate(engine)
        started = time.perf_counter()
        edition_id = seed(engine, args.readers)
        print(
            f"{args.readers:,} readers in {len(VARIANTS)} section variants seeded in "
            f"{time.perf_counter() - started:.1f} s; {os.cpu_count()} CPUs, "
            f"load {os.getloadavg()[0]:.2f}"
        )
        broker = redis.Redis.from_url(args.redis_url)
        broker.flushdb()
        stack.callback(broker.flushdb)
        sink = stack.enter_context(smtp_sink())
        key = dkim_key(args.dkim, folder)
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "BRIEF_DATA_DIR": str(folder / "data"),
            "BRIEF_DATABASE_URL": url,
            "BRIEF_BROKER_URL": args.redis_url,
            "BRIEF_SMTP_URL": f"smtp://{HOST}:{sink.port}",
            "BRIEF_FROM": "Daily Brief <brief@example.com>",
            "BRIEF_BASE_URL": "https://brief.example.com",
            "BRIEF_SECRET_KEY": SECRET,
            "BRIEF_SMTP_CONNECTIONS": str(args.connections),
            "BRIEF_SEND_BATCH_SIZE": str(args.batch_size),
        }
        if key is not None:
            env |= {"BRIEF_DKIM_KEY_FILE": str(key), "BRIEF_DKIM_SELECTOR": "bench"}
        client = Celery(broker=args.redis_url, backend=args.redis_url)
        stack.callback(client.close)
        worker = stack.enter_context(celery_worker(env, args.workers, folder / "worker.log"))
        try:
            wait_ready(client, worker)
        except SystemExit:
            print((folder / "worker.log").read_text()[-3000:], file=sys.stderr)
            raise
        time.sleep(1)  # the sweep queued at start has run
        poll = stack.enter_context(engine.connect())
        watch = Watch(
            {"smtp-sink": [sink.proc.pid], "redis-server": pids_named("redis-server")},
            args.database,
            worker,
            poll.execute(text("SELECT pg_backend_pid()")).scalar_one(),
        )
        watch.start_cpu()

        triggered_at = datetime.now(UTC)
        triggered = time.monotonic()
        client.send_task("brief.send_edition", (edition_id,))
        final = 0
        while time.monotonic() - triggered < args.timeout:
            time.sleep(SAMPLE)
            watch.sample()
            now = counts(poll)
            final = sum(n for status, n in now.items() if status in FINAL)
            if final >= args.readers:
                break
        else:
            print(f"timed out: {counts(poll)}", file=sys.stderr)
        watch.sample()
        first, last = poll.execute(
            select(func.min(Delivery.sent_at), func.max(Delivery.sent_at))
        ).one()
        by_status = counts(poll)
        sent = by_status.get("sent", 0)
        sink_count, sink_first, sink_last = sink.messages, sink.first, sink.last

        size = average_size(engine, args.readers)
        print(
            f"{args.workers} worker processes x {args.connections} connections, batches of "
            f"{args.batch_size}, DKIM {args.dkim}; ~{size:,} bytes a message"
        )
        print(f"deliveries: {by_status}")
        if first is not None and last is not None and sink_first and sink_last:
            db_span = (last - first).total_seconds()
            sink_span = sink_last - sink_first
            print(
                f"messages/s by the sink:     {sink_count / max(sink_span, 1e-9):8,.0f}"
                f"  ({sink_count:,} in {sink_span:.1f} s)"
            )
            print(
                f"messages/s by the database: {sent / max(db_span, 1e-9):8,.0f}"
                f"  ({sent:,} sent_at over {db_span:.1f} s)"
            )
            print(
                f"time to the last message:   {(last - triggered_at).total_seconds():8.1f} s"
                f"  (from send_edition's trigger)"
            )
        print(
            f"peak memory (PSS, sampled):  {watch.peak_total / 1024:8,.0f} MB  ("
            + ", ".join(f"{name} {kb / 1024:,.0f}" for name, kb in watch.peak.items())
            + ")"
        )
        total_cpu = 0.0
        parts = []
        for name in watch.peak:
            spent = watch.cpu_spent(name)
            total_cpu += spent
            parts.append(f"{name} {spent / max(sent, 1) * 1e6:,.0f}")
        print(
            f"CPU per message, µs:        {total_cpu / max(sent, 1) * 1e6:8,.0f}  ("
            + ", ".join(parts)
            + ")"
        )

        sessions = args.workers * args.connections
        sink.mark()
        seconds = smtp_source(sink.port, size, args.source_messages, sessions)
        ceiling = args.source_messages / seconds
        print(
            f"smtp-source, {sessions} sessions:  {ceiling:8,.0f} messages/s"
            f"  ({args.source_messages:,} of {size:,} bytes in {seconds:.1f} s)"
        )
        if first is not None and last is not None:
            ours = sent / max((last - first).total_seconds(), 1e-9)
            print(f"brief / smtp-source:         {ours / ceiling:8.0%}")
        print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
