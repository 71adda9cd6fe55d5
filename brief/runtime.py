"""Turning Settings into the objects the rest of brief takes as plain values.

Only the edges (CLI, Celery app, web app) call this module.
"""

from __future__ import annotations

import os
from datetime import timedelta

from sqlalchemy import Engine

from brief import __version__
from brief.batch import BatchConfig, Mailer, OpenSession
from brief.bounces import refused_at_send
from brief.config import Settings
from brief.db import open_database
from brief.editions import EditionPlan
from brief.errors import ConfigError
from brief.feeds.fetch import FetchConfig
from brief.feeds.ingest import IngestConfig
from brief.feeds.schedule import PollPolicy
from brief.mail.dkim import DkimSigner
from brief.mail.senders import EmailSender, OutboxSender, SMTPSender
from brief.mail.smtp_session import SMTPSession
from brief.mail.verp import Verp
from brief.sendrate import SendRate, chunk_size, make_send_rate
from brief.types import SiteContext, Summarizer


def database(settings: Settings, *, upgrade: bool = True) -> Engine:
    """The process's engine for the configured database, migrated to the newest schema.

    Raises DatabaseError (one line naming BRIEF_DATABASE_URL) when it cannot be used.
    """
    return open_database(settings.db_url, upgrade=upgrade)


def sender(settings: Settings) -> EmailSender:
    smtp = settings.smtp
    if smtp is None:
        return OutboxSender(settings.outbox_path)
    return SMTPSender(
        smtp.host,
        smtp.port,
        username=smtp.username,
        password=smtp.password,
        ssl=smtp.ssl,
        starttls=smtp.starttls,
        timeout=smtp.timeout,
    )


def dkim_signer(settings: Settings) -> DkimSigner | None:
    """The DKIM signer when BRIEF_DKIM_KEY_FILE and BRIEF_DKIM_SELECTOR are set, else None.

    The domain defaults to the From address's. A missing, unreadable or unusable key
    is one ConfigError line, at start-up rather than at the first send.
    """
    path, selector = settings.dkim_key_file, settings.dkim_selector
    if path is None and not selector:
        return None
    if path is None or not selector:
        raise ConfigError("bad setting: BRIEF_DKIM_KEY_FILE and BRIEF_DKIM_SELECTOR go together")
    domain = settings.dkim_domain or settings.mail_from_address.rpartition("@")[2]
    try:
        key = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"bad setting: BRIEF_DKIM_KEY_FILE: cannot read {path}: {exc}") from None
    try:
        return DkimSigner(key, selector, domain)
    except ConfigError as exc:
        raise ConfigError(f"bad setting: BRIEF_DKIM_KEY_FILE: {path}: {exc}") from None


def verp(settings: Settings) -> Verp:
    """Bounce addresses: BRIEF_BOUNCE_DOMAIN (default the From domain), signed with the secret."""
    domain = settings.bounce_domain or settings.mail_from_address.rpartition("@")[2]
    return Verp(domain=domain.lower(), secret=settings.secret_key.get_secret_value())


def send_rate(settings: Settings) -> SendRate:
    """The send rate limits: in Redis, shared by every worker, when there is one."""
    return make_send_rate(
        rate=settings.send_rate,
        domain_rate=settings.send_domain_rate,
        redis_url=settings.rate_limit_redis_url,
    )


def mailer(settings: Settings, rate: SendRate | None = None) -> Mailer:
    """What batches send with: SMTP sessions to BRIEF_SMTP_URL, or the outbox folder.

    ``rate`` is the process's limiter (``send_rate``), made once and shared; by default
    a new one.
    """
    smtp = settings.smtp
    if smtp is None:
        outbox = OutboxSender(settings.outbox_path)
        open_session: OpenSession = outbox.session
        where = str(settings.outbox_path)
    else:

        def open_session() -> SMTPSession:
            return SMTPSession(
                smtp.host,
                smtp.port,
                username=smtp.username,
                password=smtp.password,
                ssl=smtp.ssl,
                starttls=smtp.starttls,
                timeout=smtp.timeout,
            )

        where = f"{'smtps' if smtp.ssl else 'smtp'}://{smtp.host}:{smtp.port}"
    signer = dkim_signer(settings)
    return Mailer(
        open_session=open_session,
        ctx=mail_context(settings),
        where=where,
        rate=rate if rate is not None else send_rate(settings),
        rate_chunk=chunk_size(settings.send_rate, settings.send_domain_rate),
        # Bounces come back to bounces+<signed delivery id>@, so each names its delivery.
        envelope_from=verp(settings).address,
        sign=signer.sign if signer is not None else None,
        on_refused=refused_at_send,
    )


def batch_config(
    settings: Settings, *, edition_id: int | None = None, budget: float | None = None
) -> BatchConfig:
    return BatchConfig(
        batch_size=settings.send_batch_size,
        connections=settings.smtp_connections,
        lease=timedelta(seconds=settings.send_lease_seconds),
        retry_base=settings.send_retry_seconds,
        budget=budget,
        edition_id=edition_id,
    )


def mail_context(settings: Settings) -> SiteContext:
    return SiteContext(
        brief_name=settings.name,
        base_url=settings.base_url,
        mail_from=settings.mail_from,
        mail_from_address=settings.mail_from_address,
        secret_key=settings.secret_key.get_secret_value(),
        postal_address=settings.postal_address,
    )


def edition_plan(settings: Settings) -> EditionPlan:
    return EditionPlan(
        sections=settings.sections,
        per_section=settings.stories_per_section,
        edition_hour=settings.edition_hour,
        edition_minute=settings.edition_minute,
        total=settings.stories_total,
        zone=settings.zone,
        max_articles=settings.max_articles_per_window,
        max_per_feed=settings.max_articles_per_feed_window,
    )


def user_agent(settings: Settings) -> str:
    return f"brief/{__version__} (+{settings.base_url})"


def fetch_config(settings: Settings) -> FetchConfig:
    return FetchConfig(
        user_agent=user_agent(settings),
        timeout=settings.fetch_timeout,
        connect_timeout=min(settings.fetch_connect_timeout, settings.fetch_timeout),
        max_bytes=settings.fetch_max_bytes,
        concurrency=settings.fetch_concurrency,
        per_host=settings.fetch_per_host,
        allow_private=settings.fetch_allow_private,
    )


def ingest_config(settings: Settings) -> IngestConfig:
    return IngestConfig(
        fetch=fetch_config(settings),
        poll=PollPolicy(
            min_minutes=settings.poll_min_minutes,
            max_minutes=max(settings.poll_min_minutes, settings.poll_max_minutes),
        ),
        fulltext=settings.fulltext,
        max_items=settings.max_items_per_fetch,
    )


def ingest_processes() -> int:
    """Processes for an in-process ingest: one per core (parsing is CPU-bound)."""
    return max(1, os.cpu_count() or 1)


def summarizer(settings: Settings) -> Summarizer | None:
    """The abstractive summarizer when one is configured; None means extractive."""
    if not settings.summarizer_url:
        return None
    from brief.digest.abstractive import AbstractiveSummarizer

    key = settings.summarizer_api_key
    return AbstractiveSummarizer(
        settings.summarizer_url,
        settings.summarizer_model,
        api_key=key.get_secret_value() if key else None,
        timeout=settings.summarizer_timeout,
        cache_dir=settings.data_dir / "summaries",
    )
