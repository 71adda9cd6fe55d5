"""`brief serve`: all of brief on one machine, in one command.

It starts the parts as child processes, as a process manager would, and watches them:

- the web front (`brief web`: the pages, the archive, the operator API);
- a Celery worker with the beat in it (`celery -A tasks worker -B`), on the configured
  broker (the embedded one by default);
- the inbound mail listener (`brief inbound`), when asked for.

Each child runs in its own session, so a Ctrl-C in the terminal reaches only this
process, which passes the stop on once: a second SIGINT would make Celery's warm
shutdown a cold one. On SIGTERM or SIGINT every child is asked to stop; the worker
finishes the tasks it is running first (its queue stays in the broker, and tasks are
acknowledged late, so an unfinished one runs again at the next start). A child that
ends on its own stops the others: a supervisor (systemd, compose) then restarts the
whole, rather than brief running half-alive.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from brief.cli.common import state

if TYPE_CHECKING:
    from brief.taskqueue import CeleryQueue

STOP_TIMEOUT = 120.0  # seconds a child may take to stop before it is killed


@dataclass
class _Child:
    name: str
    command: list[str]
    stop_signal: signal.Signals
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, start_new_session=True)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.running():
            assert self.process is not None
            self.process.send_signal(self.stop_signal)

    def kill(self) -> None:
        if self.running():
            assert self.process is not None
            self.process.kill()


def children(
    *, host: str, port: int, concurrency: int, inbound: bool, log_level: str
) -> list[_Child]:
    python = sys.executable
    worker = ["worker", "-B", "-l", log_level, "--concurrency", str(concurrency)]
    parts = [
        _Child(
            "worker",
            [python, "-m", "celery", "-A", "tasks", *worker],
            signal.SIGTERM,  # Celery's warm shutdown
        ),
        _Child(
            "web",
            [python, "-m", "brief.cli", "web", "--host", host, "--port", str(port)],
            signal.SIGTERM,  # uvicorn's graceful shutdown
        ),
    ]
    if inbound:
        # `brief inbound` stops its listener cleanly on KeyboardInterrupt.
        parts.append(_Child("inbound", [python, "-m", "brief.cli", "inbound"], signal.SIGINT))
    return parts


def serve(
    host: Annotated[str, typer.Option(help="Address the web front listens on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port the web front listens on.")] = 8000,
    concurrency: Annotated[int, typer.Option(help="Celery worker processes.")] = 2,
    inbound: Annotated[
        bool, typer.Option(help="Also run the inbound mail listener (BRIEF_INBOUND_PORT).")
    ] = False,
    log_level: Annotated[str, typer.Option(help="The worker's log level.")] = "info",
) -> None:
    """Run brief on one machine: the web front, a Celery worker with the beat, and
    (with --inbound) the mail listener, until SIGTERM or Ctrl-C."""
    settings = state.settings  # a bad setting: one line here, not once per child
    state.engine  # noqa: B018 -- create or upgrade the schema before the children race to
    parts = children(
        host=host, port=port, concurrency=concurrency, inbound=inbound, log_level=log_level
    )
    typer.echo(f"data folder: {settings.data_dir}")
    typer.echo(f"database: {_without_password(settings.db_url)}")
    typer.echo(f"broker: {_without_password(settings.celery_broker_url)}")
    mail = _without_password(settings.smtp_url) if settings.smtp_url else settings.outbox_path
    typer.echo(f"mail: {mail}")
    typer.echo(f"web: http://{host}:{port} (the links in emails use {settings.base_url})")
    code = _supervise(parts)
    raise typer.Exit(code)


def _supervise(parts: list[_Child]) -> int:
    stopping: list[str] = []

    def ask_to_stop(signum: int, frame: FrameType | None) -> None:
        stopping.append(signal.Signals(signum).name)

    previous = {s: signal.signal(s, ask_to_stop) for s in (signal.SIGTERM, signal.SIGINT)}
    code = 0
    try:
        queue = _queue()
        queue.declare_queues()  # before the children race to (the embedded broker)
        for part in parts:
            part.start()
        # The feeds that are due now, rather than at the beat's first tick (an interval
        # after start): a new install shows its first edition's stories at once.
        queue.send("brief.refresh_due_feeds")
        while not stopping:
            ended = next((p for p in parts if not p.running()), None)
            if ended is not None:
                assert ended.process is not None
                code = ended.process.returncode or 1
                typer.echo(f"brief serve: {ended.name} exited ({code}); stopping", err=True)
                break
            time.sleep(0.2)
        else:
            typer.echo(f"brief serve: {stopping[0]}, stopping (the worker finishes its tasks)")
    finally:
        _stop_all(parts)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return code


def _queue() -> CeleryQueue:
    from brief.taskqueue import CeleryQueue

    return CeleryQueue(state.settings)


def _stop_all(parts: list[_Child]) -> None:
    for part in parts:
        part.stop()
    deadline = time.monotonic() + STOP_TIMEOUT
    for part in parts:
        if part.process is None:
            continue
        try:
            part.process.wait(max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            typer.echo(f"brief serve: {part.name} did not stop in time; killed", err=True)
            part.kill()
            part.process.wait()


def _without_password(url: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:  # not a URL at all: show its scheme and host only
        scheme, _, rest = url.partition("://")
        return f"{scheme}://{rest.rpartition('@')[2]}"
