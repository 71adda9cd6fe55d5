from __future__ import annotations

from pathlib import Path

import pytest

from brief.config import ENV_FILE_VAR, Settings, load_settings
from brief.errors import ConfigError


def test_defaults_need_no_server(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # type: ignore[arg-type]
    s = load_settings()
    assert s.db_url.startswith("sqlite:///") and s.db_url.endswith(".brief/brief.sqlite")
    assert s.celery_broker_url.startswith("sqla+sqlite:///")
    assert s.celery_result_backend.startswith("db+sqlite:///")
    assert s.smtp is None and s.outbox_path.name == "outbox"
    assert s.edition_hour == 6 and s.timezone == "UTC"


@pytest.mark.parametrize(
    ("var", "value", "message"),
    [
        ("BRIEF_EDITION_HOUR", "25", "BRIEF_EDITION_HOUR"),
        ("BRIEF_EDITION_HOUR", "six", "BRIEF_EDITION_HOUR"),
        ("BRIEF_TIMEZONE", "Mars/Olympus", "BRIEF_TIMEZONE: unknown time zone"),
        ("BRIEF_SMTP_URL", "http://mail", "BRIEF_SMTP_URL: must start with smtp://"),
        ("BRIEF_BASE_URL", "brief.example.com", "BRIEF_BASE_URL: must be an absolute"),
        ("BRIEF_FROM", "nobody", "BRIEF_FROM: must be an address"),
    ],
)
def test_a_bad_value_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, var: str, value: str, message: str
) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_production_refuses_the_placeholder_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRIEF_ENV", "production")
    with pytest.raises(ConfigError, match="BRIEF_SECRET_KEY"):
        load_settings()
    monkeypatch.setenv("BRIEF_SECRET_KEY", "a-real-random-secret")
    assert load_settings().env == "production"


def test_smtp_url_parts() -> None:
    s = Settings(smtp_url="smtps://me%40x.org:p%3Ass@mail.x.org?starttls=false")
    assert s.smtp is not None
    assert (s.smtp.host, s.smtp.port, s.smtp.ssl) == ("mail.x.org", 465, True)
    assert (s.smtp.username, s.smtp.password) == ("me@x.org", "p:ss")
    s = Settings(smtp_url="smtp://mail.x.org:587?starttls=true")
    assert s.smtp is not None and s.smtp.starttls and s.smtp.port == 587


def test_sections_from_a_comma_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRIEF_SECTIONS", "World, Tech ,,sport")
    assert load_settings().sections == ["world", "tech", "sport"]


def test_postgres_urls_use_psycopg3() -> None:
    assert Settings(database_url="postgresql://u@h/db").db_url == "postgresql+psycopg://u@h/db"


DOTENV = "BRIEF_NAME=From a dotenv\nBRIEF_EDITION_HOUR=25\n"


def test_the_tests_read_no_dotenv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    # A developer's .env, with a different name and a bad hour, in the working directory.
    (tmp_path / ".env").write_text(DOTENV)
    monkeypatch.chdir(tmp_path)
    assert load_settings().name == Settings().name == "Daily Brief"
    fixture: Settings = request.getfixturevalue("settings")
    assert (fixture.name, fixture.edition_hour) == ("Daily Brief", 6)
    # What the tests turn off: outside them, that file would be read.
    monkeypatch.delenv(ENV_FILE_VAR)
    with pytest.raises(ConfigError, match="BRIEF_EDITION_HOUR"):
        load_settings()


def test_env_file_names_another_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "brief.env").write_text("BRIEF_NAME=Morning Post\n")
    monkeypatch.setenv(ENV_FILE_VAR, str(tmp_path / "brief.env"))
    assert load_settings().name == "Morning Post"
    monkeypatch.setenv("BRIEF_NAME", "From the environment")  # the environment wins
    assert load_settings().name == "From the environment"
