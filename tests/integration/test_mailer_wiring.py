"""The mailer as brief runs it (runtime.mailer from Settings): every message leaves with a
VERP envelope sender and a DKIM signature that verifies, and a 550 at RCPT bounces the
reader, who gets nothing more."""

from __future__ import annotations

from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import Engine

from brief import runtime, store
from brief.batch import send_batches
from brief.config import Settings
from brief.db import session_scope
from brief.editions import build_edition
from brief.mail.verp import parse_bounce_address
from brief.types import SubscriberStatus
from tests.factories import NOW, add_feed_with_articles, plan
from tests.faultsmtp import Faults, FaultSMTPServer, refuse
from tests.unit.test_dkim import txt_record

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:aiosmtpd.*")

SECRET = "a-test-secret-of-at-least-32-characters"


def test_verp_dkim_and_a_refusal_through_the_real_mailer(engine: Engine, tmp_path: Path) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    key_file = tmp_path / "dkim.pem"
    key_file.write_bytes(
        key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption())
    )
    addresses = ["ann@x.test", "gone@x.test", "bob@y.test"]
    with FaultSMTPServer(Faults(rcpt=refuse(["gone@x.test"]))) as smtp:
        settings = Settings(
            data_dir=tmp_path / "data",
            base_url="https://brief.test",
            mail_from="Brief <brief@news.test>",
            secret_key=SECRET,
            smtp_url=f"smtp://{smtp.host}:{smtp.port}",
            dkim_key_file=key_file,
            dkim_selector="s1",
        )
        ctx = runtime.mail_context(settings)
        with session_scope(engine) as session:
            add_feed_with_articles(session, "https://a.test/feed", "world", ["Quake in Chile"])
            for address in addresses:
                store.add_subscriber(session, address, now=NOW)
            edition, _ = build_edition(session, plan(), ctx, day=NOW.date(), now=NOW)
            store.create_deliveries(session, edition.id, NOW)
        send_batches(
            engine, runtime.mailer(settings), runtime.batch_config(settings), now=lambda: NOW
        )
        taken = smtp.wait_for(2)

    assert sorted(t.rcpt_tos[0] for t in taken) == ["ann@x.test", "bob@y.test"]
    for message in taken:
        # The bounce address names this very delivery, signed with the site's secret.
        assert parse_bounce_address(message.mail_from, secret=SECRET) is not None
        assert message.mail_from.endswith("@news.test")

        def lookup(name: bytes, timeout: int = 5) -> bytes | None:
            return txt_record(key) if name == b"s1._domainkey.news.test." else None

        assert dkim.verify(message.raw, dnsfunc=lookup)
    with session_scope(engine) as session:
        gone = store.find_subscriber(session, "gone@x.test")
        assert gone is not None
        assert gone.status == SubscriberStatus.BOUNCED and gone.status_reason == "send-refused"
        assert store.find_subscriber(session, "ann@x.test").status == SubscriberStatus.ACTIVE  # type: ignore[union-attr]
