"""What bounces, complaints and refusals at send time do to subscribers (real database)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from brief import store
from brief.bounces import Applied, apply_report, record_send_refusal
from brief.db import session_scope
from brief.mail.bounces import BounceReport, parse_report
from brief.mail.verp import Verp
from brief.models import Delivery, Edition, MailEvent, Subscriber
from brief.types import DeliveryStatus, MailEventKind
from tests.factories import NOW

DATA = Path(__file__).resolve().parents[1] / "data" / "bounces"
VERP = Verp(domain="brief.example.com", secret="test-secret")

# The deliveries the samples in tests/data/bounces/ are about.
RECIPIENTS = {
    41: "louisl@larry.slip.umd.edu",
    42: "nobody.here.12345@gmail.com",
    43: "gone.reader@outlook.com",
    44: "old.reader@example.net",
    45: "full.box@example.org",
    46: "nobody@hosted.example",
    47: "arathib@vnet.ibm.com",
    48: "user@example.com",
    49: "reader49@yahoo.com",
    50: "reader50@aol.com",
    51: "ana@example.org",
}


def add_edition(session: Session, day: date) -> int:
    start = NOW.replace(year=day.year, month=day.month, day=day.day) - timedelta(days=1)
    edition = Edition(date=day, window_start=start, window_end=start + timedelta(days=1))
    session.add(edition)
    session.flush()
    return edition.id


def add_delivery(session: Session, delivery_id: int, edition_id: int, email: str) -> Delivery:
    sub = store.find_subscriber(session, email) or store.add_subscriber(session, email, now=NOW)[0]
    delivery = Delivery(
        id=delivery_id,
        edition_id=edition_id,
        subscriber_id=sub.id,
        recipient=email,
        status=DeliveryStatus.SENT,
        sent_at=NOW,
    )
    session.add(delivery)
    session.flush()
    return delivery


def send_samples_edition(engine: Engine) -> None:
    """Edition 2026-11-25 sent to the sample recipients, with the samples' delivery ids."""
    with session_scope(engine) as session:
        edition_id = add_edition(session, date(2026, 11, 25))
        for delivery_id, email in RECIPIENTS.items():
            add_delivery(session, delivery_id, edition_id, email)


@pytest.fixture
def sent(engine: Engine) -> Engine:
    send_samples_edition(engine)
    return engine


def apply_sample(engine: Engine, name: str, rcpt: str, when: timedelta = timedelta()) -> Applied:
    report = parse_report((DATA / name).read_bytes(), verp=VERP, envelope_to=[rcpt])
    assert report is not None
    with session_scope(engine) as session:
        return apply_report(session, report, NOW + when)


def state(engine: Engine, email: str) -> tuple[str, str | None, list[tuple[str, str | None]]]:
    with session_scope(engine) as session:
        sub = store.find_subscriber(session, email)
        assert sub is not None
        events = [(e.kind, e.code) for e in store.mail_events_for(session, sub.id)]
        return sub.status, sub.status_reason, events


PLAIN = "bounces@brief.example.com"


@pytest.mark.parametrize(
    ("name", "rcpt", "email", "expected"),
    [
        ("gmail-no-such-user.eml", VERP.address(42), RECIPIENTS[42], ("bounced", "hard-bounce")),
        (
            "outlook-recipient-not-found.eml",
            VERP.address(43),
            RECIPIENTS[43],
            ("bounced", "hard-bounce"),
        ),
        ("postfix-user-unknown.eml", VERP.address(44), RECIPIENTS[44], ("bounced", "hard-bounce")),
        ("exim-failed.eml", VERP.address(46), RECIPIENTS[46], ("bounced", "hard-bounce")),
        ("rfc3464-multi-recipient.eml", PLAIN, RECIPIENTS[47], ("bounced", "hard-bounce")),
        ("postfix-delayed-mailbox-full.eml", VERP.address(45), RECIPIENTS[45], ("active", None)),
        ("rfc3464-simple.eml", VERP.address(41), RECIPIENTS[41], ("active", None)),
        ("rfc5965-abuse.eml", PLAIN, RECIPIENTS[48], ("unsubscribed", "complaint")),
        ("yahoo-complaint.eml", PLAIN, RECIPIENTS[49], ("unsubscribed", "complaint")),
        # The recipient is redacted; the original's signed Return-Path says who.
        ("aol-complaint-redacted.eml", PLAIN, RECIPIENTS[50], ("unsubscribed", "complaint")),
    ],
)
def test_each_report_changes_its_subscriber(
    sent: Engine, name: str, rcpt: str, email: str, expected: tuple[str, str | None]
) -> None:
    applied = apply_sample(sent, name, rcpt)
    status, reason, events = state(sent, email)
    assert (status, reason) == expected
    assert len(events) == 1 and applied.outcome in ("bounced", "unsubscribed", "counted")
    # The same report again (a relay retrying) changes and counts nothing more.
    assert apply_sample(sent, name, rcpt).outcome == "duplicate"
    assert len(state(sent, email)[2]) == 1
    others = [e for e in RECIPIENTS.values() if e != email]
    with session_scope(sent) as session:
        statuses = {s.email: s.status for s in store.list_subscribers(session)}
    assert all(statuses[e] == "active" for e in others)


def test_a_complaint_unsubscribes_with_its_date(sent: Engine) -> None:
    apply_sample(sent, "yahoo-complaint.eml", PLAIN, when=timedelta(hours=2))
    with session_scope(sent) as session:
        sub = store.find_subscriber(session, RECIPIENTS[49])
        assert sub is not None and sub.unsubscribed_at == NOW + timedelta(hours=2)


def test_an_unproven_message_id_touches_nobody(sent: Engine) -> None:
    # Our Message-ID for delivery 42, but the report names another recipient.
    report = BounceReport(MailEventKind.HARD, "someone@else.example", "5.1.1", "x", 42, False)
    with session_scope(sent) as session:
        assert apply_report(session, report, NOW) == Applied("unmatched", delivery_id=42)
        missing = BounceReport(MailEventKind.HARD, None, "5.1.1", "x", 999, True)
        assert apply_report(session, missing, NOW).outcome == "unmatched"
        assert session.scalars(select(MailEvent)).all() == []
        assert {s.status for s in store.list_subscribers(session)} == {"active"}


def soft(delivery_id: int, email: str) -> BounceReport:
    return BounceReport(
        MailEventKind.SOFT, email, "4.2.2", "452 4.2.2 Mailbox full", delivery_id, True
    )


def editions_to(engine: Engine, email: str, days: list[int]) -> list[int]:
    """Deliveries of one edition a day (day 0: 2026-11-25) to one address."""
    ids = []
    with session_scope(engine) as session:
        for n, day in enumerate(days):
            edition_id = add_edition(session, date(2026, 11, 25) + timedelta(days=day))
            ids.append(add_delivery(session, 100 + n, edition_id, email).id)
    return ids


def test_three_soft_bounces_within_14_days_suspend(engine: Engine) -> None:
    email = "full@example.org"
    first, second, third = editions_to(engine, email, [0, 6, 13])
    outcomes = []
    for n, delivery_id in enumerate((first, first, second, third)):
        with session_scope(engine) as session:
            when = NOW + timedelta(days=[0, 1, 6, 13][n])
            outcomes.append(apply_report(session, soft(delivery_id, email), when).outcome)
    # The second report of the first delivery (a later "delayed" warning) is not counted.
    assert outcomes == ["counted", "duplicate", "counted", "suspended"]
    assert state(engine, email)[:2] == ("suspended", "soft-bounces")


def test_soft_bounces_spread_over_more_than_14_days_do_not(engine: Engine) -> None:
    email = "slow@example.org"
    ids = editions_to(engine, email, [0, 8, 16])
    for day, delivery_id in zip([0, 8, 16], ids, strict=True):
        with session_scope(engine) as session:
            apply_report(session, soft(delivery_id, email), NOW + timedelta(days=day))
    assert state(engine, email)[:2] == ("active", None)
    assert len(state(engine, email)[2]) == 3


def test_a_hard_bounce_after_the_reader_left_keeps_their_choice(sent: Engine) -> None:
    with session_scope(sent) as session:
        store.unsubscribe(session, RECIPIENTS[42], NOW)
    apply_sample(sent, "gmail-no-such-user.eml", VERP.address(42))
    assert state(sent, RECIPIENTS[42])[:2] == ("unsubscribed", None)


@pytest.mark.parametrize(
    ("code", "text", "expected"),
    [
        (550, "5.1.1 <gone@example.org>: Recipient address rejected", ("bounced", "send-refused")),
        (550, "Requested action not taken: mailbox unavailable", ("bounced", "send-refused")),
        (554, "5.7.1 Message rejected: spam", ("active", None)),
    ],
)
def test_a_refusal_at_send_time(
    sent: Engine, code: int, text: str, expected: tuple[str, str | None]
) -> None:
    with session_scope(sent) as session:
        delivery = store.find_delivery(session, 42)
        assert delivery is not None
        record_send_refusal(
            session,
            delivery_id=42,
            subscriber_id=delivery.subscriber_id,
            email=delivery.recipient,
            code=code,
            text=text,
            now=NOW,
        )
    status, reason, events = state(sent, RECIPIENTS[42])
    assert (status, reason) == expected
    assert [kind for kind, _ in events] == ["refused"]


def test_refusals_that_are_not_about_the_address_count_like_soft_bounces(engine: Engine) -> None:
    email = "blocked@example.org"
    ids = editions_to(engine, email, [0, 1, 2])
    outcomes = []
    for day, delivery_id in enumerate(ids):
        with session_scope(engine) as session:
            sub = store.find_subscriber(session, email)
            assert sub is not None
            outcomes.append(
                record_send_refusal(
                    session,
                    delivery_id=delivery_id,
                    subscriber_id=sub.id,
                    email=email,
                    code=554,
                    text="5.7.1 Service unavailable; client host blocked",
                    now=NOW + timedelta(days=day),
                )
            )
    assert outcomes == ["counted", "counted", "suspended"]
    assert state(engine, email)[:2] == ("suspended", "soft-bounces")


def test_only_active_subscribers_get_the_next_edition(sent: Engine) -> None:
    apply_sample(sent, "gmail-no-such-user.eml", VERP.address(42))
    apply_sample(sent, "yahoo-complaint.eml", PLAIN)
    with session_scope(sent) as session:
        edition_id = add_edition(session, date(2026, 11, 26))
        store.create_deliveries(session, edition_id, NOW)
        to = set(
            session.scalars(select(Delivery.recipient).where(Delivery.edition_id == edition_id))
        )
    assert RECIPIENTS[42] not in to and RECIPIENTS[49] not in to
    assert len(to) == len(RECIPIENTS) - 2


# -- nothing brings a held-back address back but the operator's force ------------------


@pytest.mark.parametrize(
    ("name", "rcpt", "email"),
    [
        ("gmail-no-such-user.eml", VERP.address(42), RECIPIENTS[42]),
        ("yahoo-complaint.eml", PLAIN, RECIPIENTS[49]),
    ],
)
def test_adding_a_held_back_address_needs_force(
    sent: Engine, name: str, rcpt: str, email: str
) -> None:
    apply_sample(sent, name, rcpt)
    before = state(sent, email)[:2]
    with session_scope(sent) as session:
        sub, created = store.add_subscriber(session, email, now=NOW, timezone="Asia/Tokyo")
        assert not created and store.held_back(sub)
        assert (sub.status, sub.status_reason, sub.timezone) == (*before, "UTC")
    with session_scope(sent) as session:
        sub, _ = store.add_subscriber(session, email, now=NOW, force=True)
        assert (sub.status, sub.status_reason) == ("active", "operator")
        assert not store.held_back(sub)


def test_a_reader_who_left_can_still_be_added_back(sent: Engine) -> None:
    with session_scope(sent) as session:
        store.unsubscribe(session, RECIPIENTS[41], NOW)
    with session_scope(sent) as session:
        sub, _ = store.add_subscriber(session, RECIPIENTS[41], now=NOW)
        assert (sub.status, sub.status_reason) == ("active", "operator")


def test_held_back_statuses() -> None:
    def sub(status: str, reason: str | None = None) -> Subscriber:
        return Subscriber(email="x@example.org", status=status, status_reason=reason)

    assert store.held_back(sub("bounced", "hard-bounce"))
    assert store.held_back(sub("suspended", "soft-bounces"))
    assert store.held_back(sub("unsubscribed", "complaint"))
    assert not store.held_back(sub("unsubscribed"))
    assert not store.held_back(sub("unsubscribed", "operator"))
    assert not store.held_back(sub("active"))
    assert not store.held_back(sub("pending", "hard-bounce"))


# -- the operator's view and controls (the `brief` command, a real process) ---------


def test_cli_holds_back_bounced_and_complained_addresses(tmp_path: Path) -> None:
    from brief.db import make_engine
    from tests.integration.test_cli import brief

    for address in ("ana@example.org", "ben@example.org", "cat@example.org"):
        assert brief(tmp_path, "subscribers", "add", address).returncode == 0
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'brief.sqlite'}")
    with session_scope(engine) as session:
        ana = store.find_subscriber(session, "ana@example.org")
        assert ana is not None
        ana.status, ana.status_reason = "bounced", "hard-bounce"
        store.add_mail_event(
            session,
            subscriber_id=ana.id,
            delivery_id=None,
            email=ana.email,
            kind=MailEventKind.HARD,
            code="5.1.1",
            detail="550 5.1.1 no such user",
            now=NOW,
        )
        store.unsubscribe(session, "ben@example.org", NOW, reason="complaint")
    engine.dispose()

    again = brief(tmp_path, "subscribers", "add", "ana@example.org")
    assert again.returncode == 1
    assert "ana@example.org is bounced (hard-bounce): not re-activated" in again.stderr
    csv = tmp_path / "subs.csv"
    csv.write_text("ana@example.org\nben@example.org\ndan@example.org\n")
    imported = brief(tmp_path, "subscribers", "import", str(csv))
    assert imported.returncode == 0, imported.stderr
    assert "1 added, 0 updated, 2 held back, 0 rejected" in imported.stdout
    assert "held back: ben@example.org is unsubscribed (complaint)" in imported.stderr

    listed = json.loads(brief(tmp_path, "subscribers", "list", "--json").stdout)
    reasons = {s["email"]: (s["status"], s["status_reason"]) for s in listed["subscribers"]}
    assert reasons["ana@example.org"] == ("bounced", "hard-bounce")
    assert reasons["ben@example.org"] == ("unsubscribed", "complaint")
    assert listed["summary"] == {
        "by_status": {"active": 2, "bounced": 1, "unsubscribed": 1},
        "by_reason": {"bounced": {"hard-bounce": 1}, "unsubscribed": {"complaint": 1}},
        "mail_events": {"hard": 1},
    }
    text = brief(tmp_path, "subscribers", "list").stdout.splitlines()
    assert text[-3:] == [
        "4 subscriber(s)",
        "all: active 2, bounced 1 (hard-bounce 1), unsubscribed 1 (complaint 1)",
        "mail events: hard 1",
    ]

    forced = brief(tmp_path, "subscribers", "import", "--force", str(csv))
    assert "0 added, 3 updated, 0 held back" in forced.stdout
    assert brief(tmp_path, "subscribers", "remove", "cat@example.org").returncode == 0
    listed = json.loads(brief(tmp_path, "subscribers", "list", "--json").stdout)
    assert listed["summary"]["by_reason"] == {
        "active": {"operator": 2},
        "unsubscribed": {"operator": 1},
    }


def test_api_import_holds_back_and_stats_count_by_reason(sent: Engine, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from brief.config import Settings
    from brief.ratelimit import MemoryRateLimiter
    from brief.web.app import create_app
    from tests.factories import RecordingQueue, RecordingSender
    from tests.integration.test_web import ADMIN, auth

    apply_sample(sent, "gmail-no-such-user.eml", VERP.address(42))
    apply_sample(sent, "postfix-delayed-mailbox-full.eml", VERP.address(45))
    apply_sample(sent, "aol-complaint-redacted.eml", PLAIN)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path,
        database_url=sent.url.render_as_string(hide_password=False),
        admin_token=ADMIN,
    )
    app = create_app(
        settings, queue=RecordingQueue(), limiter=MemoryRateLimiter(), sender=RecordingSender()
    )
    csv = f"{RECIPIENTS[42]}\n{RECIPIENTS[50]}\n{RECIPIENTS[45]}\nnew@example.org\n"
    headers = {**auth(), "content-type": "text/csv"}
    with TestClient(app, base_url="https://brief.test") as client:
        imported = client.post("/api/subscribers/import", headers=headers, content=csv)
        assert imported.status_code == 200, imported.text
        assert imported.json() == {
            "added": 1,
            "updated": 1,
            "held_back": [
                {"email": RECIPIENTS[42], "status": "bounced", "reason": "hard-bounce"},
                {"email": RECIPIENTS[50], "status": "unsubscribed", "reason": "complaint"},
            ],
            "rejected": [],
        }
        stats = client.get("/api/stats", headers=auth()).json()
        assert stats["subscribers"] == {"active": 10, "bounced": 1, "unsubscribed": 1}
        assert stats["subscriber_reasons"] == {
            "bounced": {"hard-bounce": 1},
            "unsubscribed": {"complaint": 1},
        }
        assert stats["mail_events"] == {"complaint": 1, "hard": 1, "soft": 1}
        listing = client.get("/api/subscribers?status=bounced", headers=auth()).json()
        assert [(s["email"], s["status_reason"]) for s in listing["items"]] == [
            (RECIPIENTS[42], "hard-bounce")
        ]
        forced = client.post("/api/subscribers/import?force=true", headers=headers, content=csv)
        assert forced.json()["held_back"] == [] and forced.json()["updated"] == 4
    with session_scope(sent) as session:
        sub = store.find_subscriber(session, RECIPIENTS[42])
        assert sub is not None and (sub.status, sub.status_reason) == ("active", "operator")
