"""`brief run` and `brief demo`: the whole job, once, now."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING, Annotated

import typer

from brief.cli.common import now, state
from brief.cli.editions import echo_outcome, write_preview

if TYPE_CHECKING:
    from brief.config import Settings
    from brief.pipeline import RunReport


def _print_report(report: RunReport, where: str) -> None:
    from brief.types import RefreshStatus

    ok = sum(r.status != RefreshStatus.ERROR for r in report.ingested)
    typer.echo(
        f"feeds: {len(report.ingested)} fetched, {ok} ok, "
        f"{len(report.failed_feeds)} failed; {report.new_articles} new article(s)"
    )
    for r in report.failed_feeds:
        typer.echo(f"  failed {r.url}: {r.error}")
    if report.edition_error:
        typer.echo(f"edition: {report.edition_error}; nothing sent")
        return
    verb = "built" if report.edition_created else "already built"
    typer.echo(f"edition {report.edition_date} ({verb}): {report.stories} stories")
    for outcome in report.deliveries:
        echo_outcome(outcome)
    line = (
        f"messages: {report.count('sent')} sent to {where}, "
        f"{report.count('failed') + report.count('retry')} failed"
    )
    if report.count("unsure"):
        line += f", {report.count('unsure')} unsure (see `brief editions show`)"
    typer.echo(line)


def _run(settings: Settings) -> RunReport:
    from brief import runtime
    from brief.pipeline import run_once

    return run_once(
        state.engine,
        plan=runtime.edition_plan(settings),
        ctx=runtime.mail_context(settings),
        mailer=runtime.mailer(settings),
        batch=runtime.batch_config(settings),
        ingest=runtime.ingest_config(settings),
        processes=runtime.ingest_processes(),
        now=now,
        summarizer=runtime.summarizer(settings),
    )


def _destination(settings: Settings) -> str:
    smtp = settings.smtp
    return f"smtp://{smtp.host}:{smtp.port}" if smtp else str(settings.outbox_path.resolve())


def run() -> None:
    """Ingest, build today's edition and send it, once, now."""
    s = state.settings
    _print_report(_run(s), _destination(s))


def demo(
    email: Annotated[str, typer.Option(help="The demo subscriber.")] = "demo@example.com",
) -> None:
    """Run the whole job offline on sample feeds, into a fresh demo folder."""
    from brief import store
    from brief.db import session_scope
    from brief.feeds.samples import sample_feeds, serve_samples
    from brief.subscriptions import normalize_email

    base = state.settings
    folder = base.data_dir / "demo"
    shutil.rmtree(folder, ignore_errors=True)
    # Embedded defaults whatever the environment says: SQLite and the outbox.
    demo_settings = base.model_copy(
        update={
            "data_dir": folder,
            "database_url": None,
            "broker_url": None,
            "result_backend": None,
            "smtp_url": None,
            "outbox_dir": None,
            # The samples are served on 127.0.0.1, which fetches refuse by default.
            "fetch_allow_private": True,
        }
    )
    state.use(demo_settings)
    samples = sample_feeds(now())
    with serve_samples(samples) as urls:
        with session_scope(state.engine) as session:
            for name, section, _ in samples:
                store.add_feed(session, urls[name], section)
            store.add_subscriber(session, normalize_email(email), now=now(), timezone=base.timezone)
        report = _run(demo_settings)
    _print_report(report, _destination(demo_settings))
    with session_scope(state.engine) as session:
        assert report.edition_id is not None
        preview = write_preview(store.get_edition(session, report.edition_id))
    typer.echo(f"preview: {preview}")
