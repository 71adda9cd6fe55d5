"""Settings, read from ``BRIEF_*`` environment variables and an optional ``.env``.

``BRIEF_ENV_FILE`` names another dotenv file, or none when empty (the tests set it
so: a developer's ``.env`` must not leak into them).

Built once at the edges (CLI, Celery app, web app) and passed inward as plain
values: ``brief.feeds``, ``brief.digest`` and ``brief.mail`` never import this.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from brief.errors import ConfigError

DEV_SECRET = "dev-insecure-secret-change-me"
# Secrets printed in our docs and examples: public, so never accepted in production.
EXAMPLE_SECRETS = frozenset({DEV_SECRET, "change-me-to-a-long-random-string"})
MIN_SECRET_LENGTH = 32
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
ENV_FILE_VAR = "BRIEF_ENV_FILE"

DEFAULT_SECTIONS = [
    "world",
    "europe",
    "americas",
    "asia",
    "africa",
    "middle-east",
    "business",
    "technology",
    "science",
    "health",
    "culture",
    "sport",
]


def normalize_database_url(url: str) -> str:
    """Point bare ``postgresql://`` URLs at psycopg 3, the driver we install."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class SMTPConfig:
    """The parts of ``BRIEF_SMTP_URL``: ``smtp[s]://user:pass@host:port?starttls=true``."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError("must start with smtp:// or smtps://")
        if not parts.hostname:
            raise ValueError("has no host name")
        query = {k: v[-1].lower() for k, v in parse_qs(parts.query).items()}
        self.ssl = parts.scheme == "smtps"
        self.host: str = parts.hostname
        self.port: int = parts.port or (465 if self.ssl else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.starttls = query.get("starttls", "false") in ("1", "true", "yes")
        self.timeout = float(query.get("timeout", "30"))


def production_problems(secret: str, base_url: str) -> list[str]:
    """Why these values would be unsafe in production (each names its setting)."""
    problems = []
    if secret in EXAMPLE_SECRETS:
        problems.append(
            "BRIEF_SECRET_KEY is an example from the docs, known to anyone: set a random "
            "value (python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    elif len(secret) < MIN_SECRET_LENGTH:
        problems.append(
            f"BRIEF_SECRET_KEY is {len(secret)} characters long; production needs at "
            f"least {MIN_SECRET_LENGTH} random ones"
        )
    parts = urlsplit(base_url)
    if parts.scheme == "http" and (parts.hostname or "") not in LOCAL_HOSTS:
        problems.append(
            f"BRIEF_BASE_URL {base_url} is plain http: links in emails would carry their "
            "tokens in clear; use https:// (or run with BRIEF_ENV=development)"
        )
    return problems


def default_data_dir() -> Path:
    """Where brief keeps its files unless BRIEF_DATA_DIR says otherwise.

    Fixed, whatever the current directory: a cron job and a second shell must find
    the same database. A service running as root keeps them under /var/lib.
    """
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/lib/brief")
    from platformdirs import user_data_path

    return user_data_path("brief", appauthor=False)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="BRIEF_", env_file=".env", extra="ignore", populate_by_name=True
    )

    env: Literal["development", "production"] = "development"
    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = None
    broker_url: str | None = None
    result_backend: str | None = None
    smtp_url: str | None = None
    outbox_dir: Path | None = None
    mail_from: str = Field(
        "Daily Brief <brief@localhost>",
        validation_alias=AliasChoices("BRIEF_FROM", "mail_from"),
    )
    base_url: str = "http://localhost:8000"
    secret_key: SecretStr = SecretStr(DEV_SECRET)
    timezone: str = "UTC"
    edition_hour: int = Field(6, ge=0, le=23)
    edition_minute: int = Field(0, ge=0, le=59)
    ingest_interval_minutes: int = Field(5, ge=1, le=24 * 60)  # beat tick: feeds due a poll
    # A batch task is killed after this (its feeds then count as lost: poison feeds), and
    # a claimed feed is due again after the lease (never shorter than the time limit).
    ingest_time_limit: int = Field(660, ge=2, le=24 * 3600)
    ingest_lease_seconds: int = Field(1800, ge=2)
    # A worker process using more than this is replaced after its task (Celery's
    # worker_max_memory_per_child); 0: never.
    worker_max_memory_mb: int = Field(1024, ge=0)
    sections: Annotated[list[str], NoDecode] = Field(default_factory=lambda: list(DEFAULT_SECTIONS))
    stories_per_section: int = Field(5, ge=1, le=50)
    name: str = "Daily Brief"
    fetch_timeout: float = Field(20.0, gt=0, le=300)  # total per fetch
    fetch_connect_timeout: float = Field(10.0, gt=0, le=120)
    fetch_max_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    fetch_concurrency: int = Field(32, ge=1, le=1000)  # fetches at once, per process
    fetch_per_host: int = Field(4, ge=1, le=100)  # fetches at once to one host
    fetch_allow_private: bool = False  # loopback/private/link-local addresses
    # One feed cannot flood a day: entries stored per feed per fetch (the newest), and
    # the articles of an edition's window it considers, per feed and in all (the newest).
    max_items_per_fetch: int = Field(200, ge=1)
    max_articles_per_feed_window: int = Field(500, ge=1)
    max_articles_per_window: int = Field(20_000, ge=1)
    poll_min_minutes: int = Field(30, ge=1)
    poll_max_minutes: int = Field(24 * 60, ge=1)
    fulltext: bool = True  # fetch the article page when a feed gives only a teaser
    stories_total: int = Field(25, ge=1, le=200)
    summarizer_url: str | None = None  # an OpenAI-compatible /v1/chat/completions endpoint
    summarizer_model: str = "gpt-4o-mini"
    summarizer_api_key: SecretStr | None = None
    summarizer_timeout: float = Field(20.0, gt=0, le=300)
    admin_token: SecretStr | None = None  # bearer token of the operator API; unset: API off
    redis_url: str | None = None  # rate limits; default: the broker when it is Redis
    confirm_max_age_hours: int = Field(48, ge=1)
    inbound_host: str = "127.0.0.1"
    inbound_port: int = Field(2525, ge=1, le=65535)
    postal_address: str = ""
    # Reverse proxies whose X-Forwarded-For/-Proto are believed (addresses or networks,
    # comma-separated); from anyone else those headers are ignored. Empty: none.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Sending (the batched mailer).
    smtp_connections: int = Field(4, ge=1, le=64)  # parallel SMTP connections per worker
    send_batch_size: int = Field(200, ge=1, le=10_000)  # deliveries claimed at once
    send_lease_seconds: int = Field(600, ge=30)  # a claim held this long by a live batch
    send_retry_seconds: float = Field(60.0, gt=0, le=3600)  # a 4xx's first retry; doubled
    send_sweep_seconds: float = Field(15.0, gt=0, le=3600)  # the beat's sweep of deliveries
    send_rate: float = Field(0.0, ge=0)  # messages per second, all workers; 0: no limit
    send_domain_rate: float = Field(0.0, ge=0)  # per recipient domain; 0: no limit
    # Deliverability: DKIM signing (all three, or none) and the VERP bounce address.
    dkim_key_file: Path | None = None  # PEM: RSA (rsa-sha256) or Ed25519 (ed25519-sha256)
    dkim_selector: str | None = None
    dkim_domain: str | None = None  # default: the From address's domain
    bounce_domain: str | None = None  # bounces+<id>@this; default: the From domain

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # BRIEF_ENV_FILE, read at each build: another dotenv file, or none when empty.
        env_file = os.environ.get(ENV_FILE_VAR)
        if env_file is not None:
            dotenv_settings = DotEnvSettingsSource(settings_cls, env_file=env_file or None)
        return init_settings, env_settings, dotenv_settings, file_secret_settings

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().absolute()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name like Europe/Paris)"
            ) from None
        return value

    @field_validator("sections", mode="before")
    @classmethod
    def _split_sections(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [s for s in (p.strip().lower() for p in value.split(",")) if s]
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxies(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [p.strip() for p in value.split(",") if p.strip()]
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(
                    f"{item!r} is not an IP address or network (like 10.0.0.2 or 10.0.0.0/24)"
                ) from None
        return value

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url(cls, value: str | None) -> str | None:
        if value:
            SMTPConfig(value)
            return value
        return None

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an absolute http(s) URL like https://brief.example.com")
        return value.rstrip("/")

    @field_validator("mail_from")
    @classmethod
    def _mail_from(cls, value: str) -> str:
        from email.utils import parseaddr

        if "\r" in value or "\n" in value:
            raise ValueError("must be a single line")
        _, addr = parseaddr(value)
        if "@" not in addr:
            raise ValueError("must be an address like 'Daily Brief <brief@example.com>'")
        return value

    @model_validator(mode="after")
    def _production_ready(self) -> Settings:
        if self.env == "production":
            problems = production_problems(self.secret_key.get_secret_value(), self.base_url)
            if problems:
                raise ValueError("; ".join(problems))
        return self

    # Derived values: resolved here so every entry point agrees on them.

    @property
    def db_url(self) -> str:
        if self.database_url:
            return normalize_database_url(self.database_url)
        return f"sqlite:///{(self.data_dir / 'brief.sqlite').resolve()}"

    @property
    def celery_broker_url(self) -> str:
        if self.broker_url:
            return self.broker_url
        # kombu's SQLAlchemy transport: a real broker in a file, no server needed.
        return f"sqla+sqlite:///{(self.data_dir / 'broker.sqlite').resolve()}"

    @property
    def celery_result_backend(self) -> str:
        if self.result_backend:
            return self.result_backend
        if self.celery_broker_url.startswith(("redis://", "rediss://")):
            return self.celery_broker_url
        if self.db_url.startswith("sqlite"):
            return f"db+sqlite:///{(self.data_dir / 'results.sqlite').resolve()}"
        return "db+" + self.db_url

    @property
    def rate_limit_redis_url(self) -> str | None:
        if self.redis_url:
            return self.redis_url
        if self.celery_broker_url.startswith(("redis://", "rediss://")):
            return self.celery_broker_url
        return None

    @property
    def outbox_path(self) -> Path:
        return self.outbox_dir or self.data_dir / "outbox"

    @property
    def smtp(self) -> SMTPConfig | None:
        return SMTPConfig(self.smtp_url) if self.smtp_url else None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def mail_from_address(self) -> str:
        from email.utils import parseaddr

        return parseaddr(self.mail_from)[1]


_ALIASES = {"mail_from": "BRIEF_FROM"}


def _describe(error: ValidationError) -> str:
    lines = []
    for err in error.errors():
        field = str(err["loc"][0]) if err["loc"] else ""
        msg = str(err["msg"]).removeprefix("Value error, ")
        if not field:
            lines.append(msg)
            continue
        var = field if field.startswith("BRIEF_") else _ALIASES.get(field, f"BRIEF_{field.upper()}")
        lines.append(f"{var}: {msg}")
    return "; ".join(lines)


def hide_password(url: str) -> str:
    """`url` with its password, if any, shown as ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rpartition("@")
    user = netloc[0].partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[2]}"))


def load_settings(**overrides: Any) -> Settings:
    """Build settings, turning validation errors into one ConfigError line per variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(f"bad setting: {_describe(exc)}") from None
    except ValueError as exc:
        raise ConfigError(f"bad setting: {exc}") from None
