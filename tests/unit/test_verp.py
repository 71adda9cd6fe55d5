"""VERP addresses: round trip, and forged or mangled ones read as None."""

from __future__ import annotations

from pathlib import Path

import pytest

from brief.config import Settings
from brief.mail.verp import SIG_LENGTH, Verp, bounce_address, parse_bounce_address
from brief.runtime import verp

SECRET = "test-secret"


@pytest.mark.parametrize("delivery_id", [1, 42, 2_147_483_647])
def test_round_trip(delivery_id: int) -> None:
    address = bounce_address(delivery_id, domain="News.Example.COM", secret=SECRET)
    local, domain = address.split("@")
    assert domain == "news.example.com"
    assert local.startswith(f"bounces+{delivery_id}.") and len(local.split(".")[1]) == SIG_LENGTH
    assert parse_bounce_address(address, secret=SECRET) == delivery_id
    # Mail systems may change the case of a local part, or keep the angle brackets.
    assert parse_bounce_address(address.upper(), secret=SECRET) == delivery_id
    assert parse_bounce_address(f"<{address}>", secret=SECRET) == delivery_id


def test_the_signature_depends_on_the_id_and_the_secret() -> None:
    a = bounce_address(42, domain="example.com", secret=SECRET)
    assert a == bounce_address(42, domain="example.com", secret=SECRET)
    assert a != bounce_address(42, domain="example.com", secret="other")
    assert a.split(".")[1] != bounce_address(43, domain="example.com", secret=SECRET).split(".")[1]


def forged() -> list[str]:
    good = bounce_address(42, domain="example.com", secret=SECRET)
    sig = good.split("@")[0].split(".")[1]
    other = bounce_address(43, domain="example.com", secret=SECRET)
    return [
        good.replace("+42.", "+41."),  # another id with this id's signature
        other.replace("+43.", "+42."),
        bounce_address(42, domain="example.com", secret="not-ours"),
        f"bounces+42.{sig[:-1]}@example.com",  # truncated
        "bounces+42@example.com",
        "bounces@example.com",
        "brief@example.com",
        f"bounces+-1.{sig}@example.com",
        f"bounces+42.{sig}",
        "",
    ]


@pytest.mark.parametrize("address", forged())
def test_forged_or_other_addresses_are_none(address: str) -> None:
    assert parse_bounce_address(address, secret=SECRET) is None


def test_verp_bundles_domain_and_secret() -> None:
    verp = Verp(domain="bounce.example.com", secret=SECRET)
    assert verp.delivery_id(verp.address(7)) == 7
    assert verp.is_bounce_mailbox(verp.address(7))
    assert verp.is_bounce_mailbox("Bounces@Bounce.Example.com")
    assert not verp.is_bounce_mailbox("brief@bounce.example.com")
    assert not verp.is_bounce_mailbox("bounces@example.com")
    assert not verp.is_bounce_mailbox("bouncesx@bounce.example.com")


def test_the_bounce_domain_defaults_to_the_from_domain(tmp_path: Path) -> None:
    base = {"_env_file": None, "data_dir": tmp_path, "mail_from": "B <b@News.Example>"}
    assert verp(Settings(**base)).domain == "news.example"  # type: ignore[arg-type]
    other = verp(Settings(**base, bounce_domain="bounce.example"))  # type: ignore[arg-type]
    assert other.domain == "bounce.example" and other.secret != ""
