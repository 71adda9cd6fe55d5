"""Find the real services the integration tests need (PostgreSQL, Redis).

On a developer's machine without them, those tests skip with the reason. Under
``CI=true`` a missing service is a failure: CI must never go green by skipping.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

import pytest

POSTGRES_URL = os.environ.get(
    "BRIEF_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("BRIEF_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 2
        ):
            return True
    except OSError:
        return False


def require(name: str, url: str, default_port: int) -> None:
    if _reachable(url, default_port):
        return
    reason = f"{name} is not reachable at {url}"
    if in_ci():
        pytest.fail(f"{reason}; CI=true, so this is an error, not a skip", pytrace=False)
    pytest.skip(f"{reason} (start it, or set the URL in the environment)")


def require_postgres() -> str:
    require("PostgreSQL", POSTGRES_URL, 5432)
    return POSTGRES_URL


def require_redis() -> str:
    require("Redis", REDIS_URL, 6379)
    return REDIS_URL
