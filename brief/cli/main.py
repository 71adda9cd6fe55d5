"""The `brief` command line: feeds, subscribers, ingest, digest, editions, run, demo.

Importing this module stays light (`brief --help` starts fast): the command
modules import what they need inside their commands.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

import typer

from brief.cli.common import state
from brief.cli.editions import digest_app, editions_app
from brief.cli.feeds import feeds_app, ingest
from brief.cli.run import demo, run
from brief.cli.serve import serve
from brief.cli.status import status
from brief.cli.stories import stories, summarize
from brief.cli.subscribers import subs_app
from brief.cli.web import inbound, web
from brief.errors import BriefError, ConfigError, UnavailableError

app = typer.Typer(
    help="brief: a daily news brief email from public RSS/Atom feeds.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(feeds_app, name="feeds")
app.add_typer(subs_app, name="subscribers")
app.add_typer(digest_app, name="digest")
app.add_typer(editions_app, name="editions")
app.add_typer(db_app, name="db")
app.command()(ingest)
app.command()(run)
app.command()(demo)
app.command()(stories)
app.command()(summarize)
app.command()(web)
app.command()(inbound)
app.command()(serve)
app.command()(status)


@app.callback()
def _root() -> None:
    # A fresh state per invocation (tests call the app many times in one process).
    state.use_env()


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or upgrade the database schema."""
    from brief.db import where

    typer.echo(f"database at {where(state.engine)} is up to date")


class _OneLine(logging.Formatter):
    """Log lines without the traceback of a BriefError: its message says what failed."""

    def formatException(self, ei: Any) -> str:
        return f"{ei[1]}" if isinstance(ei[1], BriefError) else super().formatException(ei)


def _reported_by_main(record: logging.LogRecord) -> bool:
    """False for a record about the error main() is about to print as its one line."""
    error = record.exc_info[1] if record.exc_info else None
    return not _is_relay_error(error)


def _is_relay_error(error: BaseException | None) -> bool:
    if not isinstance(error, BriefError):
        return False
    from brief.mail.smtp_session import RelayError

    return isinstance(error, RelayError)


def _log_to_stderr() -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(_OneLine("brief: %(message)s"))
    handler.addFilter(_reported_by_main)
    logging.basicConfig(level=logging.WARNING, handlers=[handler])


def relay_refused(exc: Any) -> str:
    """The line for a relay that refuses brief as a client (RelayError): which setting."""
    setting = "BRIEF_FROM" if "MAIL FROM" in exc.message else "BRIEF_SMTP_URL"
    return f"the mail server at {exc.recipient} refused brief ({setting}): {exc.message}"


def main(argv: list[str] | None = None) -> None:
    """Console entry point: user mistakes get one line on stderr, not a traceback."""
    command: Callable[..., Any] = typer.main.get_command(app)
    _log_to_stderr()
    try:
        command(args=argv, prog_name="brief", standalone_mode=True)
    except ConfigError as exc:
        print(f"brief: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except UnavailableError as exc:
        print(f"brief: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    except BriefError as exc:
        line = f"brief: {relay_refused(exc)}" if _is_relay_error(exc) else f"error: {exc}"
        print(line, file=sys.stderr)
        raise SystemExit(1) from None
