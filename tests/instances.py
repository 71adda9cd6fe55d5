"""Private service instances for tests that kill or restart them: Redis, PostgreSQL and
Celery processes, never the machine's own services.

Each instance listens on a free loopback port, keeps its files in a folder of its own,
and is stopped with every process it started when its ``with`` block ends, whatever
happened in it::

    with RedisInstance(tmp_path) as redis, PostgresInstance() as pg:
        env = {..., "BRIEF_BROKER_URL": redis.url, "BRIEF_DATABASE_URL": pg.url}
        with CeleryProcess.worker(tmp_path / "w1.log", env) as worker:
            ...
            redis.restart(down=1.0)
            worker.kill9()

A binary that is missing (redis-server, PostgreSQL's initdb and pg_ctl, runuser when
running as root) skips the test with the reason; under CI=true tests/conftest.py turns
that skip into a failure.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

import pytest

from tests.smtpserver import HOST, free_port
from tests.wait import wait_until

REPO = Path(__file__).resolve().parents[1]
START_TIMEOUT = 60.0  # seconds for a service or worker to come up on a loaded machine


def require_binary(name: str, *, where: str | None = None) -> str:
    """The path of ``name`` (on PATH, or in ``where``), or a skip saying it is missing."""
    found = shutil.which(name, path=where)
    if found is None:
        place = where or "PATH"
        pytest.skip(f"{name} is not installed (looked in {place}); the fault tests need it")
    return found


def postgres_bindir() -> str:
    """The newest /usr/lib/postgresql/<version>/bin with initdb and pg_ctl (Debian's layout)."""
    dirs = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    for bindir in reversed(dirs):
        if (bindir / "initdb").exists() and (bindir / "pg_ctl").exists():
            return str(bindir)
    on_path = shutil.which("pg_ctl")
    if on_path is not None and shutil.which("initdb"):
        return str(Path(on_path).parent)
    pytest.skip("PostgreSQL's initdb and pg_ctl are not installed (apt-get install postgresql)")


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), 0.5):
            return True
    except OSError:
        return False


def _stop_group(process: subprocess.Popen[bytes], timeout: float, *, term: bool = True) -> None:
    """SIGTERM the process (unless done already), wait, then SIGKILL its whole process
    group (children too)."""
    if process.poll() is None:
        if term:
            process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)  # leftover children of a killed parent
    process.wait()


class _Instance:
    """A context manager that stops the instance on the way out, error or not."""

    def start(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class RedisInstance(_Instance):
    """``redis-server`` on a free loopback port, no persistence: a restart loses every key
    (the broker's queues with them), as a Redis without AOF does."""

    def __init__(self, folder: Path) -> None:
        self.binary = require_binary("redis-server")
        self.port = free_port()
        self.dir = folder / f"redis-{self.port}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log = self.dir / "redis.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def start(self) -> None:
        command = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            HOST,
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.dir),
        ]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        wait_until(self._ready, START_TIMEOUT, interval=0.05, what=self._describe)

    def _ready(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"redis-server exited:\n{self.log.read_text()[-2000:]}")
        try:
            with socket.create_connection((HOST, self.port), 0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def _describe(self) -> str:
        return f"redis-server on port {self.port}; its log:\n{self.log.read_text()[-2000:]}"

    def stop(self) -> None:
        if self.process is not None:
            _stop_group(self.process, 10)
            self.process = None

    def restart(self, down: float = 0.0) -> None:
        """Stop, stay down ``down`` seconds, start again on the same port (empty)."""
        self.stop()
        time.sleep(down)
        self.start()

    def close(self) -> None:
        self.stop()


class PostgresInstance(_Instance):
    """A PostgreSQL cluster of its own (initdb, pg_ctl) on a free loopback port, trust
    auth, with a ``test`` database.

    Run as the ``postgres`` user when we are root (PostgreSQL refuses to run as root),
    so its folder is a temp folder of its own, not under pytest's root-only tmp_path.
    Durability is off (fsync): a stop or restart is a clean one (``-m fast``: sessions
    are ended, everything committed is kept), not a crash.
    """

    def __init__(self) -> None:
        self.bindir = postgres_bindir()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            self.as_user = [require_binary("runuser"), "-u", "postgres", "--"]
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="brief-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self._made = False

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@{HOST}:{self.port}/test"

    def _run(self, *args: str) -> None:
        command = [*self.as_user, str(Path(self.bindir) / args[0]), *args[1:]]
        done = subprocess.run(command, capture_output=True, timeout=120, check=False)
        if done.returncode != 0:
            raise AssertionError(
                f"{' '.join(command)} exited {done.returncode}:\n"
                f"{done.stdout.decode(errors='replace')}{done.stderr.decode(errors='replace')}"
                f"{self.log.read_text(errors='replace')[-2000:] if self.log.exists() else ''}"
            )

    def _init(self) -> None:
        if self.as_user:
            shutil.chown(self.root, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8")
        self._made = True

    def start(self) -> None:
        if not self._made:
            self._init()
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses={HOST} -c max_connections=200 "
            "-c fsync=off -c full_page_writes=off -c shared_buffers=32MB"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60",
            "start",
        )  # fmt: skip
        if not self._has_test_database():
            self._run("createdb", "-h", HOST, "-p", str(self.port), "-U", "postgres", "test")

    def _has_test_database(self) -> bool:
        import psycopg

        with psycopg.connect(
            host=HOST, port=self.port, user="postgres", dbname="postgres", connect_timeout=5
        ) as conn:
            return (
                conn.execute("SELECT 1 FROM pg_database WHERE datname = 'test'").fetchone()
                is not None
            )

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists() and _port_open(self.port)

    def stop(self, mode: str = "fast") -> None:
        """``fast``: end every session, then stop cleanly (a restart as operators do it)."""
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def restart(self, down: float = 0.0) -> None:
        """Stop (``-m fast``), stay down ``down`` seconds, start again: data kept."""
        self.stop()
        time.sleep(down)
        self.start()

    def close(self) -> None:
        try:
            self.stop()
        except AssertionError:
            with contextlib.suppress(AssertionError):
                self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


class CeleryProcess(_Instance):
    """``python -m celery -A tasks <args>`` in its own process group, output to ``log``.

    ``kill9`` kills the whole group at once (the main process and its pool children),
    as the kernel's OOM killer or a lost machine would; ``close`` stops it with SIGTERM
    and kills whatever is left.
    """

    def __init__(self, args: list[str], log: Path, env: Mapping[str, str]) -> None:
        self.args = args
        self.log = log
        self.env = {**env, "PYTHONPATH": str(REPO)}
        self.process: subprocess.Popen[bytes] | None = None
        self.kills = 0
        self._ready_before = 0
        self._terminated = False

    @classmethod
    def worker(
        cls, log: Path, env: Mapping[str, str], *, name: str, concurrency: int = 2
    ) -> CeleryProcess:
        return cls(
            [
                "worker",
                "-l",
                "info",
                "-c",
                str(concurrency),
                "-n",
                f"{name}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            log,
            env,
        )

    @classmethod
    def beat(cls, log: Path, env: Mapping[str, str], schedule: Path) -> CeleryProcess:
        return cls(["beat", "-l", "info", "-s", str(schedule)], log, env)

    def start(self) -> None:
        self._ready_before = self.text().count(" ready.")
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "tasks", *self.args],
                cwd=REPO,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """For a worker: until it logs that it is ready to take tasks (since its start)."""

        def ready() -> bool:
            self.check_alive()
            return self.text().count(" ready.") > self._ready_before

        wait_until(ready, timeout, interval=0.1, what=lambda: f"the worker; log:\n{self.tail()}")

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(
                f"celery {self.args[0]} exited with {self.process.returncode}:\n{self.tail()}"
            )

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def tail(self, chars: int = 4000) -> str:
        return self.text()[-chars:]

    def kill9(self) -> None:
        """SIGKILL to every process of the group at once: no clean-up runs anywhere."""
        assert self.process is not None and self.process.poll() is None, "not running"
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.process = None
        self.kills += 1

    def terminate(self) -> None:
        """SIGTERM (a warm shutdown) without waiting: ``stop`` waits. Stopping many
        processes at once is faster than one after the other."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self._terminated = True

    def stop(self) -> None:
        if self.process is not None:
            _stop_group(self.process, 20, term=not self._terminated)
            self.process = None
            self._terminated = False

    def close(self) -> None:
        self.stop()
