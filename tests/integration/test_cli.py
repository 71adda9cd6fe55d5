"""The `brief` command as a user runs it: a real process, real files, no server."""

from __future__ import annotations

import email
import json
import os
import subprocess
import sys
from email import policy
from pathlib import Path

import pytest

from brief.config import DEFAULT_SECTIONS


def brief(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("BRIEF_")}
    base.update({"BRIEF_DATA_DIR": str(tmp_path / "data"), **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "brief.cli", *args],
        cwd=tmp_path,
        env=base,
        input=input,
        capture_output=True,
        text=True,
        timeout=120,
    )


# What `brief --help` and `brief status` must not load: they start in well under a
# second only because the commands import these when they run (bench/startup.py).
HEAVY = ("scipy", "numpy", "httpx", "celery", "feedparser", "brief.runtime", "brief.digest")


def imported(tmp_path: Path, *args: str) -> set[str]:
    """The modules a real `brief ARGS` process imported (from `python -X importtime`)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIEF_")}
    env.update(BRIEF_DATA_DIR=str(tmp_path / "data"), BRIEF_ENV_FILE="")
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "brief.cli", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("import time:")]
    return {line.rpartition("|")[2].strip() for line in lines[1:]}


def heavy(modules: set[str]) -> set[str]:
    return {m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)}


def test_help_imports_no_heavy_module(tmp_path: Path) -> None:
    modules = imported(tmp_path, "--help")
    assert "typer" in modules and "brief.cli.feeds" in modules  # the list is real
    assert heavy(modules) == set()
    assert "sqlalchemy" not in modules and "pydantic_settings" not in modules


@pytest.mark.slow
def test_demo_ends_with_an_html_digest_in_the_outbox(tmp_path: Path) -> None:
    result = brief(tmp_path, "demo")
    assert result.returncode == 0, result.stderr
    outbox = tmp_path / "data" / "demo" / "outbox"
    [eml] = list(outbox.glob("*.eml"))
    message = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert message["To"] == "demo@example.com"
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "<html" in html.lower() and "href=" in html
    preview = Path(result.stdout.strip().splitlines()[-1].removeprefix("preview: "))
    assert preview.is_file() and preview.read_text().lower().startswith("<!doctype html")
    assert "1 sent" in result.stdout
    # Running the demo again starts fresh and still sends exactly one message.
    again = brief(tmp_path, "demo")
    assert again.returncode == 0, again.stderr
    assert len(list(outbox.glob("*.eml"))) == 1


def test_a_bad_setting_is_one_clear_line(tmp_path: Path) -> None:
    result = brief(tmp_path, "feeds", "list", env={"BRIEF_EDITION_HOUR": "25"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "brief: bad setting: BRIEF_EDITION_HOUR: Input should be less than or equal to 23"
    ]


def test_a_bad_address_is_refused_and_nothing_is_stored(tmp_path: Path) -> None:
    result = brief(tmp_path, "subscribers", "add", "a@b.c\r\nBcc: x@evil.org")
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "invalid email address" in result.stderr and "Traceback" not in result.stderr
    listed = brief(tmp_path, "subscribers", "list", "--json")
    assert json.loads(listed.stdout)["subscribers"] == []


def test_feeds_and_subscribers_round_trip(tmp_path: Path) -> None:
    assert (
        brief(
            tmp_path, "feeds", "add", "https://example.org/rss", "--section", "World", "--no-check"
        ).returncode
        == 0
    )
    bad = brief(tmp_path, "feeds", "add", "ftp://example.org/rss")
    assert bad.returncode == 1 and "not a feed URL" in bad.stderr
    feeds = json.loads(brief(tmp_path, "feeds", "list", "--json").stdout)
    assert [(f["url"], f["section"]) for f in feeds] == [("https://example.org/rss", "world")]
    opml = brief(tmp_path, "feeds", "export").stdout
    assert 'xmlUrl="https://example.org/rss"' in opml
    missing = brief(tmp_path, "feeds", "remove", "https://nope.example/rss")
    assert missing.returncode == 1 and "no feed" in missing.stderr

    csv = tmp_path / "subs.csv"
    csv.write_text("email,timezone\nana@example.org,Europe/Paris\nnot-an-address\n")
    imported = brief(tmp_path, "subscribers", "import", str(csv))
    assert imported.returncode == 0 and "1 added" in imported.stdout
    assert "line 3" in imported.stderr
    assert brief(tmp_path, "subscribers", "add", "ANA@example.org").returncode == 0
    subs = json.loads(brief(tmp_path, "subscribers", "list", "--json").stdout)["subscribers"]
    assert [(s["email"], s["status"], s["timezone"]) for s in subs] == [
        ("ana@example.org", "active", "Europe/Paris")
    ]
    assert brief(tmp_path, "subscribers", "remove", "ana@example.org").returncode == 0
    subs = json.loads(brief(tmp_path, "subscribers", "list", "--json").stdout)["subscribers"]
    assert subs[0]["status"] == "unsubscribed"


def test_editions_cli_without_editions_is_helpful(tmp_path: Path) -> None:
    result = brief(tmp_path, "digest", "send")
    assert result.returncode == 1 and "no edition yet" in result.stderr
    shown = brief(tmp_path, "editions", "show", "99")
    assert shown.returncode == 1 and "no edition 99" in shown.stderr
    bad_date = brief(tmp_path, "digest", "build", "--date", "yesterday")
    assert bad_date.returncode == 1 and "expected YYYY-MM-DD" in bad_date.stderr


def test_summarize_reads_stories_and_writes_summaries(tmp_path: Path) -> None:
    lines = [
        json.dumps(
            {
                "id": "s1",
                "docs": [
                    {
                        "title": "Quake hits Chile",
                        "url": "https://a.test/1",
                        "text": "A strong earthquake struck central Chile on Tuesday. "
                        "Officials said no tsunami warning was issued. "
                        "Buildings shook in Santiago for a minute.",
                    },
                    {
                        "title": "Chile earthquake shakes Santiago",
                        "url": "https://b.test/2",
                        "text": "Buildings shook in Santiago as a strong earthquake hit. "
                        "No damage was reported in the capital, officials said.",
                    },
                ],
            }
        ),
        "not json",
        json.dumps({"id": "s2", "docs": []}),
    ]
    result = brief(tmp_path, "summarize", "--json", input="\n".join(lines) + "\n")
    assert result.returncode == 1  # two bad lines, reported; the good one still summarized
    [out] = [json.loads(line) for line in result.stdout.splitlines()]
    assert out["id"] == "s1" and out["headline"] and "earthquake" in out["summary"]
    assert len(out["summary"].split()) <= 60
    assert "line 2: skipped" in result.stderr and "line 3: skipped" in result.stderr


@pytest.mark.slow
def test_stories_groups_the_demo_feeds(tmp_path: Path) -> None:
    assert brief(tmp_path, "demo").returncode == 0
    demo = {"BRIEF_DATA_DIR": str(tmp_path / "data" / "demo")}
    result = brief(tmp_path, "stories", "--json", env=demo)
    assert result.returncode == 0, result.stderr
    stories = json.loads(result.stdout)
    assert stories and all(s["articles"] and s["articles"][0]["url"] for s in stories)
    # The samples tell two stories in two outlets each: each is one story here.
    assert sum(len(s["outlets"]) >= 2 for s in stories) >= 2
    # The samples are all news: none is left out of the edition (a reason would say why).
    assert all("left_out" in s and s["left_out"] is None for s in stories)
    assert brief(tmp_path, "stories", "--since", "yesterday").returncode == 1


@pytest.mark.slow
def test_test_send_goes_only_to_the_given_addresses(tmp_path: Path) -> None:
    assert brief(tmp_path, "demo").returncode == 0
    demo = {"BRIEF_DATA_DIR": str(tmp_path / "data" / "demo")}
    result = brief(tmp_path, "digest", "test-send", "1", "--to", "editor@example.org", env=demo)
    assert result.returncode == 0, result.stderr
    outbox = tmp_path / "data" / "demo" / "outbox"
    tests = []
    for eml in outbox.glob("*.eml"):
        message = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
        if message["To"] == "editor@example.org":
            tests.append(message)
    [sent] = tests
    assert str(sent["Subject"]).startswith("[TEST] ") and sent["List-Unsubscribe"] is None
    editions = json.loads(brief(tmp_path, "editions", "show", "1", "--json", env=demo).stdout)
    assert editions["deliveries"] == {"sent": 1}  # the demo subscriber's only; no test row
    bad = brief(tmp_path, "digest", "test-send", "1", "--to", "x@y.z\r\nBcc: a@b.c", env=demo)
    assert bad.returncode == 1 and "invalid email address" in bad.stderr


def test_unknown_sections_are_refused_wherever_they_are_typed(tmp_path: Path) -> None:
    worl = brief(tmp_path, "subscribers", "add", "a@example.org", "--sections", "world,worl")
    assert worl.returncode == 1
    assert worl.stderr.strip().splitlines() == [
        "error: unknown section(s) worl; known: " + ", ".join(DEFAULT_SECTIONS)
    ]
    feed = brief(tmp_path, "feeds", "add", "https://x.test/rss", "--section", "worl")
    assert feed.returncode == 1 and "unknown section 'worl'" in feed.stderr
    csv = tmp_path / "readers.csv"
    csv.write_text("email,timezone,sections\nb@example.org,,sprot\nc@example.org,,sport\n")
    imported = brief(tmp_path, "subscribers", "import", str(csv))
    assert imported.returncode == 0
    assert "line 2: skipped 'b@example.org': unknown section(s) sprot" in imported.stderr
    assert "1 added" in imported.stdout
    listed = json.loads(brief(tmp_path, "subscribers", "list", "--json").stdout)
    assert [(s["email"], s["sections"]) for s in listed["subscribers"]] == [
        ("c@example.org", ["sport"])
    ]


def test_production_refuses_a_weak_secret_in_one_line(tmp_path: Path) -> None:
    for secret in ("short", "change-me-to-a-long-random-string"):
        env = {
            "BRIEF_ENV": "production",
            "BRIEF_SECRET_KEY": secret,
            "BRIEF_BASE_URL": "https://brief.example.com",
        }
        result = brief(tmp_path, "status", env=env)
        assert result.returncode == 2
        [line] = result.stderr.strip().splitlines()
        assert line.startswith("brief: bad setting: BRIEF_SECRET_KEY")


def test_the_data_folder_is_the_same_from_any_directory(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIEF_")}
    env["HOME"] = str(tmp_path / "home")  # the user data folder of a user of our own
    env["XDG_DATA_HOME"] = str(tmp_path / "home" / ".local" / "share")
    seen = set()
    for cwd in (tmp_path, tmp_path / "elsewhere"):
        cwd.mkdir(exist_ok=True)
        result = subprocess.run(
            [sys.executable, "-m", "brief.cli", "status", "--json"],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        seen.add(json.loads(result.stdout)["data_dir"])
    [where] = seen
    assert Path(where).is_absolute()
    assert where in (str(tmp_path / "home" / ".local" / "share" / "brief"), "/var/lib/brief")


def test_an_empty_run_says_why_in_one_line(tmp_path: Path) -> None:
    result = brief(tmp_path, "run")
    assert result.returncode == 0, result.stderr
    assert "no edition made: there are no feeds" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
