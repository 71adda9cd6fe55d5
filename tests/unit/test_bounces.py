"""Bounce and complaint reports: real-looking samples in tests/data/bounces/ (built from
the RFC 3464 and RFC 5965 examples and from what Gmail, Outlook, Postfix, Exim, Yahoo
and AOL send) -> BounceReport."""

from __future__ import annotations

from pathlib import Path

import pytest

from brief.mail.bounces import (
    BounceReport,
    classify_refusal,
    classify_status,
    parse_report,
)
from brief.mail.verp import Verp
from brief.types import MailEventKind

DATA = Path(__file__).resolve().parents[1] / "data" / "bounces"
VERP = Verp(domain="brief.example.com", secret="test-secret")
HARD, SOFT, COMPLAINT = MailEventKind.HARD, MailEventKind.SOFT, MailEventKind.COMPLAINT


def envelope(delivery_id: int | None) -> list[str]:
    """Where the report was delivered: a delivery's VERP address, or plain bounces@."""
    if delivery_id is None:
        return ["bounces@brief.example.com"]
    return [VERP.address(delivery_id)]


def read(name: str, rcpt: int | None = None, verp: Verp | None = VERP) -> BounceReport | None:
    raw = (DATA / name).read_bytes()
    return parse_report(raw, verp=verp, envelope_to=envelope(rcpt))


# name, delivery id in the envelope recipient (None: bounces@), expected report
SAMPLES: list[tuple[str, int | None, BounceReport | None]] = [
    (
        "gmail-no-such-user.eml",
        42,
        BounceReport(
            HARD,
            "nobody.here.12345@gmail.com",
            "5.1.1",
            "550-5.1.1 The email account that you tried to reach does not exist. Please try "
            "550-5.1.1 double-checking the recipient's email address for typos or "
            "550-5.1.1 unnecessary spaces. For more information, go to "
            "550 5.1.1 https://support.google.com/mail/?p=NoSuchUser "
            "d75a77b69052e-4a7f1c2e3b4si1234567cf.120 - gsmtp",
            42,
            verified=True,
        ),
    ),
    (
        "outlook-recipient-not-found.eml",
        43,
        BounceReport(
            HARD,
            "gone.reader@outlook.com",
            "5.1.10",
            "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient gone.reader@outlook.com "
            "not found by SMTP address lookup",
            43,
            verified=True,
        ),
    ),
    (
        "postfix-user-unknown.eml",
        44,
        BounceReport(
            HARD,
            "Old.Reader@example.net",
            "5.1.1",
            "550 5.1.1 <old.reader@example.net>: Recipient address rejected: "
            "User unknown in virtual mailbox table",
            44,
            verified=True,
        ),
    ),
    (
        "postfix-delayed-mailbox-full.eml",
        45,
        BounceReport(
            SOFT,
            "full.box@example.org",
            "4.2.2",
            "452 4.2.2 <full.box@example.org>: Mailbox full",
            45,
            verified=True,
        ),
    ),
    (
        "exim-failed.eml",
        46,
        BounceReport(HARD, "nobody@hosted.example", None, "No Such User Here", 46, verified=True),
    ),
    # RFC 3464's first example: "failed" after 5 days of time-outs, 4.0.0: soft.
    (
        "rfc3464-simple.eml",
        41,
        BounceReport(
            SOFT, "louisl@larry.slip.umd.edu", "4.0.0", "426 connection timed out", 41, True
        ),
    ),
    # RFC 3464's multi-recipient example, to plain bounces@: the hard failure wins, and
    # the delivery comes from our Message-ID in the returned message (unverified).
    (
        "rfc3464-multi-recipient.eml",
        None,
        BounceReport(
            HARD,
            "arathib@vnet.ibm.com",
            "5.0.0",
            "550 'arathib@vnet.IBM.COM' is not a registered gateway user",
            47,
            verified=False,
        ),
    ),
    (
        "rfc5965-abuse.eml",
        None,
        BounceReport(
            COMPLAINT, "user@example.com", "abuse", "abuse report by SomeGenerator/1.0", 48
        ),
    ),
    # Yahoo's feedback loop: to the registered bounces@, naming our VERP envelope sender.
    (
        "yahoo-complaint.eml",
        None,
        BounceReport(
            COMPLAINT,
            "reader49@yahoo.com",
            "abuse",
            "abuse report by Yahoo!-Mail-Feedback/2.0",
            49,
            verified=True,
        ),
    ),
    # AOL redacts the recipient; the original's Return-Path (our VERP) still says who.
    (
        "aol-complaint-redacted.eml",
        None,
        BounceReport(
            COMPLAINT, "redacted@aol.com", "abuse", "abuse report by AOL SComp", 50, verified=True
        ),
    ),
    ("vacation-auto-reply.eml", 51, None),
    ("delivered-notification.eml", 42, None),
    ("dmarc-auth-failure.eml", None, None),  # about our authentication, not a reader
]


@pytest.mark.parametrize(("name", "rcpt", "expected"), SAMPLES, ids=[s[0] for s in SAMPLES])
def test_samples(name: str, rcpt: int | None, expected: BounceReport | None) -> None:
    assert read(name, rcpt) == expected


def test_every_sample_is_checked() -> None:
    assert sorted(p.name for p in DATA.glob("*.eml")) == sorted(s[0] for s in SAMPLES)


def test_without_the_secret_a_verp_address_is_no_proof() -> None:
    # Only our Message-ID is left: a claim the caller checks against the recipient.
    report = read("gmail-no-such-user.eml", 42, verp=Verp("brief.example.com", "other"))
    assert report is not None and (report.delivery_id, report.verified) == (42, False)
    report = read("postfix-user-unknown.eml", 44, verp=None)
    assert report is not None and (report.delivery_id, report.verified) == (44, False)


def test_a_forged_verp_address_is_ignored() -> None:
    forged = VERP.address(7).replace("+7.", "+8.")
    raw = (DATA / "exim-failed.eml").read_bytes()
    report = parse_report(raw, verp=VERP, envelope_to=[forged])
    assert report is not None and (report.delivery_id, report.verified) == (46, False)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not an email at all",
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=x\n\n--x--\n",
        b"Content-Type: multipart/report; boundary=x\n\n--x\nContent-Type: "
        b"message/delivery-status\n\nReporting-MTA: dns; x\n\nAction: failed\n--x--\n",
        b"Content-Type: message/delivery-status\n\nAction: failed\n",
    ],
)
def test_garbage_is_not_a_report_and_does_not_crash(raw: bytes) -> None:
    report = parse_report(raw, verp=VERP)
    assert report is None or (report.kind == HARD and report.recipient is None)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        ("5.1.1", HARD),
        ("5.1.10", HARD),
        ("5.0.0 (permanent failure)", HARD),
        ("5.2.1", HARD),
        ("5.4.4", HARD),
        ("5.5.0", HARD),
        ("5.2.2", SOFT),  # mailbox full
        ("5.3.4", SOFT),  # message too big
        ("5.7.1", SOFT),  # policy: our reputation, not the reader's address
        ("5.7.26", SOFT),  # DMARC
        ("5.4.7", SOFT),  # delivery time expired
        ("4.2.2", SOFT),
        ("4.4.7", SOFT),
        ("2.0.0", None),
        ("", None),
        ("5.1", None),
    ],
)
def test_classify_status(status: str, kind: MailEventKind | None) -> None:
    assert classify_status(status) == kind


@pytest.mark.parametrize(
    ("code", "text", "kind"),
    [
        (550, "5.1.1 <gone@example.org>: Recipient address rejected: User unknown", HARD),
        (550, "No such user here", HARD),
        (553, "mailbox name not allowed", HARD),
        (550, "5.7.1 Message rejected as spam", SOFT),
        (554, "Transaction failed", SOFT),
        (554, "5.7.1 <x@example.org>: Relay access denied", SOFT),
        (552, "5.2.2 Mailbox full", SOFT),
    ],
)
def test_classify_refusal(code: int, text: str, kind: MailEventKind) -> None:
    assert classify_refusal(code, text) == kind
