from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from brief.config import ENV_FILE_VAR, Settings
from brief.db import make_engine, migrate, session_factory
from brief.models import Base
from tests.services import in_ci, require_postgres

SHARED = Path(__file__).resolve().parents[2] / "shared"
CORPORA = SHARED / "corpora"
SEEDS = SHARED / "seeds"


pytest_plugins = ["tests.feedserver"]


def pytest_configure(config: pytest.Config) -> None:
    # A developer's .env must not change what the tests see: settings built here,
    # by the code under test, and in the processes the tests start read no dotenv.
    os.environ[ENV_FILE_VAR] = ""
    # ...and nothing a test runs writes into the machine's real data folder.
    os.environ["BRIEF_DATA_DIR"] = tempfile.mkdtemp(prefix="brief-tests-")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    # Under CI a skip is an error: every test must really run there.
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if in_ci() and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true: {report.longrepr}"


def corpus(*parts: str) -> Path:
    """A folder of ../shared/corpora, or a skip when the corpora are not beside the repo."""
    path = CORPORA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"corpus {path} is absent (clone ../shared beside the repo)")
    return path


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", base_url="https://brief.test")


_PG_MIGRATED: set[str] = set()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated database: a fresh SQLite file, or the PostgreSQL test database emptied."""
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'test.sqlite'}")
        migrate(eng)
    else:
        url = require_postgres()
        eng = make_engine(url)
        if url not in _PG_MIGRATED:
            with eng.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
            migrate(eng)
            _PG_MIGRATED.add(url)
        tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
        with eng.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with session_factory(engine)() as s:
        yield s
