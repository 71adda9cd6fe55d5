"""Signed, expiring tokens for links in emails (unsubscribe, preferences, confirm).

The purpose is part of the signature, so a token made for one link cannot be
used for another.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import time
from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from brief.errors import TokenError

# Purposes: each kind of link signs with its own salt.
CONFIRM = "confirm"  # double opt-in (max age: BRIEF_CONFIRM_MAX_AGE_HOURS)
MANAGE = "manage"  # preferences links
UNSUBSCRIBE = "unsubscribe"
MANAGE_MAX_AGE = 400 * 24 * 3600
UNSUBSCRIBE_MAX_AGE = 400 * 24 * 3600  # links in old emails must keep working


@functools.lru_cache(maxsize=64)
def _serializer(secret: str, purpose: str) -> URLSafeTimedSerializer:
    # Made once per (secret, purpose): the mailer signs two links per message, and
    # building a serializer (key derivation included) costs more than signing.
    return URLSafeTimedSerializer(secret, salt=f"brief.{purpose}")


@functools.lru_cache(maxsize=64)
def _mac(secret: str, purpose: str) -> hmac.HMAC:
    # itsdangerous's key for this salt (its default "django-concat" derivation, SHA-1),
    # keyed once: the serializer derives it again for every token it signs.
    key = hashlib.sha1(f"brief.{purpose}".encode() + b"signer" + secret.encode()).digest()
    return hmac.new(key, digestmod=hashlib.sha1)


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def make_token(secret: str, purpose: str, subject: int | str) -> str:
    payload = str(subject).encode()
    if type(subject) is not int or len(payload) > 9:
        return _serializer(secret, purpose).dumps(subject)
    # The mailer signs two of these a message: the serializer's very format (the JSON
    # number, base64; the timestamp; the HMAC-SHA1) in a fraction of its time. Up to 9
    # characters the serializer never compresses the payload (zlib's least is 8 bytes).
    stamp = int(time.time()).to_bytes(8, "big").lstrip(b"\x00")
    value = _b64(payload) + b"." + _b64(stamp)
    mac = _mac(secret, purpose).copy()
    mac.update(value)
    return (value + b"." + _b64(mac.digest())).decode()


def read_token(secret: str, purpose: str, token: str, max_age: int) -> int | str:
    try:
        value = _serializer(secret, purpose).loads(token, max_age=max_age)
    except SignatureExpired:
        raise TokenError("this link has expired") from None
    except BadSignature:
        raise TokenError("this link is not valid") from None
    if not isinstance(value, int | str):
        raise TokenError("this link is not valid")
    return value


MAX_ID = 2**63 - 1  # a database id: a signed 64-bit integer


def read_subscriber_id(secret: str, purpose: str, token: str, max_age: int) -> int:
    """The subscriber id a link carries; TokenError for anything else it might hold.

    The signature makes a forged subject unlikely, not impossible (a leaked secret,
    an old format): whatever is inside, the answer is a 400, never a crash.
    """
    value = read_token(secret, purpose, token, max_age)
    if isinstance(value, str) and value.isascii() and value.isdecimal():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
        raise TokenError("this link is not valid")
    return value


@dataclass(frozen=True)
class Links:
    """The signed links a subscriber's emails and pages carry."""

    base_url: str
    secret: str

    def confirm(self, subscriber_id: int) -> str:
        return f"{self.base_url}/confirm/{make_token(self.secret, CONFIRM, subscriber_id)}"

    def preferences(self, subscriber_id: int) -> str:
        return f"{self.base_url}/preferences/{make_token(self.secret, MANAGE, subscriber_id)}"

    def unsubscribe(self, subscriber_id: int) -> str:
        token = make_token(self.secret, UNSUBSCRIBE, subscriber_id)
        return f"{self.base_url}/unsubscribe/{token}"
