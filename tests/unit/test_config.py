from __future__ import annotations

import re
from pathlib import Path

import pytest

from brief.config import (
    DEV_SECRET,
    ENV_FILE_VAR,
    EXAMPLE_SECRETS,
    Settings,
    default_data_dir,
    load_settings,
)
from brief.errors import ConfigError


def test_defaults_need_no_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BRIEF_DATA_DIR")
    monkeypatch.chdir(tmp_path)
    s = load_settings()
    assert s.data_dir == default_data_dir() and s.data_dir.is_absolute()
    assert s.db_url == f"sqlite:///{default_data_dir() / 'brief.sqlite'}"
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


REPO = Path(__file__).resolve().parents[2]
RANDOM = "Zq3v0mWk1p8Yf6rT2sNc9LhB4xGd7eJu"  # 32 characters


def _documented_secrets() -> set[str]:
    """Every BRIEF_SECRET_KEY value our docs and examples print."""
    found = set()
    for name in (".env.example", "docker-compose.yml", "README.md"):
        text = (REPO / name).read_text()
        found |= set(
            re.findall(r"BRIEF_SECRET_KEY[=:][ ]*(?:\$\{BRIEF_SECRET_KEY:-)?([\w-]+)", text)
        )
    return found


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        (DEV_SECRET, "BRIEF_SECRET_KEY is an example from the docs"),
        ("change-me-to-a-long-random-string", "BRIEF_SECRET_KEY is an example from the docs"),
        ("short", "BRIEF_SECRET_KEY is 5 characters long"),
        (RANDOM[:-1], "BRIEF_SECRET_KEY is 31 characters long"),
    ],
)
def test_production_refuses_a_weak_secret(
    monkeypatch: pytest.MonkeyPatch, secret: str, message: str
) -> None:
    monkeypatch.setenv("BRIEF_ENV", "production")
    monkeypatch.setenv("BRIEF_BASE_URL", "https://brief.example.com")
    monkeypatch.setenv("BRIEF_SECRET_KEY", secret)
    with pytest.raises(ConfigError, match=message) as info:
        load_settings()
    assert "\n" not in str(info.value)
    monkeypatch.setenv("BRIEF_SECRET_KEY", RANDOM)
    assert load_settings().env == "production"


def test_every_documented_secret_is_refused_in_production() -> None:
    documented = _documented_secrets()
    assert "change-me-to-a-long-random-string" in documented  # the pattern finds them
    assert documented <= EXAMPLE_SECRETS


@pytest.mark.parametrize(
    ("base_url", "refused"),
    [
        ("http://brief.example.com", True),
        ("http://192.0.2.7:8000", True),
        ("https://brief.example.com", False),
        ("http://localhost:8000", False),
        ("http://127.0.0.1:8000", False),
    ],
)
def test_production_refuses_plain_http_except_localhost(
    monkeypatch: pytest.MonkeyPatch, base_url: str, refused: bool
) -> None:
    monkeypatch.setenv("BRIEF_ENV", "production")
    monkeypatch.setenv("BRIEF_SECRET_KEY", RANDOM)
    monkeypatch.setenv("BRIEF_BASE_URL", base_url)
    if refused:
        with pytest.raises(ConfigError, match=r"BRIEF_BASE_URL .* is plain http"):
            load_settings()
    else:
        assert load_settings().base_url == base_url


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


def test_the_data_folder_does_not_depend_on_where_you_stand(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BRIEF_DATA_DIR")
    monkeypatch.chdir(tmp_path)
    here = load_settings().data_dir
    monkeypatch.chdir("/")
    assert load_settings().data_dir == here
    # A relative BRIEF_DATA_DIR is made absolute once, where the command starts.
    monkeypatch.setenv("BRIEF_DATA_DIR", "rel")
    assert load_settings().data_dir == Path("/rel")


def test_root_keeps_its_data_under_var_lib(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 0)
    assert default_data_dir() == Path("/var/lib/brief")
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    assert default_data_dir().name == "brief" and "var/lib" not in str(default_data_dir())
