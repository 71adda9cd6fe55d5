"""Turning Settings into the objects the rest of brief takes as plain values.

Only the edges (CLI, Celery app, web app) call this module.
"""

from __future__ import annotations

from sqlalchemy import Engine

from brief import __version__
from brief.config import Settings
from brief.db import engine_for, migrate
from brief.delivery import MailContext
from brief.editions import EditionPlan
from brief.mail.senders import EmailSender, OutboxSender, SMTPSender


def database(settings: Settings, *, upgrade: bool = True) -> Engine:
    """The process's engine for the configured database, migrated to the newest schema."""
    engine = engine_for(settings.db_url)
    if upgrade:
        migrate(engine)
    return engine


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


def mail_context(settings: Settings) -> MailContext:
    return MailContext(
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
        zone=settings.zone,
    )


def user_agent(settings: Settings) -> str:
    return f"brief/{__version__} (+{settings.base_url})"
