"""VERP: each delivery's envelope sender names it, ``bounces+<id>.<sig>@domain``. Pure.

A bounce goes back to the envelope sender, so the address it arrives at says which
delivery failed, whatever the bounce's own text says. The short HMAC keeps anyone who
can send mail from making us mark arbitrary subscribers bounced: a forged or mangled
address reads as None. Local parts may be lower-cased on the way, so the signature is
lower-case base32 and compared case-insensitively.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

LOCAL = "bounces"
SIG_LENGTH = 10  # base32 characters: 50 bits
_PURPOSE = b"brief.verp:"
_ADDRESS = re.compile(rf"^{LOCAL}\+(\d{{1,18}})\.([a-z2-7]{{{SIG_LENGTH}}})@(.+)$", re.IGNORECASE)


def _signature(delivery_id: int, secret: str) -> str:
    mac = hmac.new(secret.encode(), _PURPOSE + str(delivery_id).encode(), hashlib.sha256)
    return base64.b32encode(mac.digest()).decode("ascii").lower()[:SIG_LENGTH]


def bounce_address(delivery_id: int, *, domain: str, secret: str) -> str:
    """``bounce_address(42, domain="example.com", secret=s)`` -> ``bounces+42.<sig>@example.com``"""
    return f"{LOCAL}+{delivery_id}.{_signature(delivery_id, secret)}@{domain.lower()}"


def parse_bounce_address(address: str, *, secret: str) -> int | None:
    """The delivery id a VERP address names, or None (not one, or a wrong signature)."""
    match = _ADDRESS.match(address.strip().strip("<>"))
    if match is None:
        return None
    delivery_id = int(match.group(1))
    expected = _signature(delivery_id, secret)
    return delivery_id if hmac.compare_digest(match.group(2).lower(), expected) else None


@dataclass(frozen=True)
class Verp:
    """The bounce domain and the secret, as the sender and the inbound listener share them."""

    domain: str
    secret: str

    def address(self, delivery_id: int) -> str:
        return bounce_address(delivery_id, domain=self.domain, secret=self.secret)

    def delivery_id(self, address: str) -> int | None:
        return parse_bounce_address(address, secret=self.secret)

    def is_bounce_mailbox(self, address: str) -> bool:
        """Mail for ``bounces@`` or ``bounces+...@`` the bounce domain: reports, not commands."""
        local, _, domain = address.strip().strip("<>").rpartition("@")
        local = local.lower()
        return domain.lower() == self.domain.lower() and (
            local == LOCAL or local.startswith(f"{LOCAL}+")
        )
