"""`brief run`: ingest -> build today's edition -> send, once, in this process.

The same steps the Celery tasks run on a schedule, for an operator who wants
them now and wants to see what happened.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from sqlalchemy import Engine

from brief import store
from brief.batch import BatchConfig, Mailer, send_batches
from brief.db import session_scope
from brief.delivery import DeliveryOutcome
from brief.editions import EditionPlan, build_edition
from brief.errors import EmptyEditionError
from brief.feeds.ingest import IngestConfig, refresh_feeds
from brief.feeds.writer import IngestResult
from brief.sending import EveryActive, send_pending
from brief.types import RefreshStatus, SiteContext, Summarizer


@dataclass
class RunReport:
    ingested: list[IngestResult] = field(default_factory=list)
    edition_id: int | None = None
    edition_date: date | None = None
    edition_created: bool = False
    stories: int = 0
    deliveries: list[DeliveryOutcome] = field(default_factory=list)
    edition_error: str | None = None  # why no edition was made

    @property
    def new_articles(self) -> int:
        return sum(r.new_articles for r in self.ingested)

    @property
    def failed_feeds(self) -> list[IngestResult]:
        return [r for r in self.ingested if r.status == RefreshStatus.ERROR]

    def count(self, status: str) -> int:
        return sum(1 for d in self.deliveries if d.status == status)


def ingest_all(
    engine: Engine, config: IngestConfig, *, now: datetime, processes: int = 1
) -> list[IngestResult]:
    """Refresh every enabled feed now, due or not (``brief ingest``, ``brief run``).

    ``config`` comes from ``runtime.ingest_config`` (tests and benches build their own).
    """
    with session_scope(engine) as session:
        ids = store.feed_ids(session)
    return refresh_feeds(engine, ids, config, now, processes=processes)


def send_edition(
    engine: Engine,
    edition_id: int,
    mailer: Mailer,
    now: Callable[[], datetime],
    *,
    config: BatchConfig | None = None,
    on_progress: Callable[[DeliveryOutcome], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> list[DeliveryOutcome]:
    """Create the edition's deliveries and send every due one, here and now, in batches.

    Returns each message's outcome in the order they were sent; ``on_start`` hears
    how many are pending (a progress bar's length), ``on_progress`` each outcome.
    """
    queued = send_pending(engine, EveryActive(), now(), edition_id=edition_id)
    if on_start:
        on_start(queued.pending)
    outcomes: list[DeliveryOutcome] = []

    def heard(outcome: DeliveryOutcome) -> None:
        outcomes.append(outcome)
        if on_progress:
            on_progress(outcome)

    config = replace(config or BatchConfig(), edition_id=edition_id)
    send_batches(engine, mailer, config, now=now, on_outcome=heard)
    return outcomes


def run_once(
    engine: Engine,
    *,
    plan: EditionPlan,
    ctx: SiteContext,
    mailer: Mailer,
    ingest: IngestConfig,
    now: Callable[[], datetime],
    batch: BatchConfig | None = None,
    processes: int = 1,
    summarizer: Summarizer | None = None,
) -> RunReport:
    report = RunReport()
    report.ingested = ingest_all(engine, ingest, now=now(), processes=processes)
    started = now()
    try:
        with session_scope(engine) as session:
            edition, created = build_edition(
                session, plan, ctx, day=plan.today(started), now=started, summarizer=summarizer
            )
            report.edition_id, report.edition_date = edition.id, edition.date
            report.edition_created, report.stories = created, len(edition.stories)
    except EmptyEditionError as exc:
        report.edition_error = str(exc)
        return report
    report.deliveries = send_edition(engine, edition.id, mailer, now, config=batch)
    return report
