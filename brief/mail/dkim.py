"""DKIM signatures (RFC 6376) with dkimpy: rsa-sha256 or ed25519-sha256 (RFC 8463). Pure.

The key file is PEM: an RSA key (``BEGIN RSA PRIVATE KEY`` or PKCS#8 ``BEGIN PRIVATE
KEY``) or an Ed25519 key in PKCS#8 (what ``openssl genpkey -algorithm ed25519`` writes);
dkimpy's own Ed25519 format (the base64 seed, from ``dknewkey --ktype ed25519``) works too.

Every header listed in SIGNED_HEADERS is signed, present or not: signing an absent
header (a confirmation has no List-Unsubscribe) stops anyone adding one on the way.
"""

from __future__ import annotations

import base64
import binascii
import re

import dkim

from brief.errors import ConfigError

SIGNED_HEADERS = (
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
    b"mime-version",
    b"content-type",
)
# Headers relaxed: relays re-fold them. Body simple (dkimpy's default too): our bodies are
# quoted-printable with CRLF and no trailing spaces, so nothing for "relaxed" to forgive,
# and simple costs half the time (relaxed runs regexes over every line).
CANONICALIZE = (b"relaxed", b"simple")
RSA = "rsa-sha256"
ED25519 = "ed25519-sha256"

_PEM = re.compile(rb"-----BEGIN ([A-Z ]+)-----\s*(.*?)\s*-----END \1-----", re.DOTALL)
# PKCS#8 (RFC 5208/5958) DER: the algorithm identifiers we recognise, and Ed25519's
# private key, an OCTET STRING holding the OCTET STRING of the 32-byte seed.
_RSA_OID = bytes.fromhex("06092a864886f70d010101")  # 1.2.840.113549.1.1.1 rsaEncryption
_ED25519_OID = bytes.fromhex("06032b6570")  # 1.3.101.112 id-Ed25519
_ED25519_SEED = bytes.fromhex("04220420")


def _ed25519_seed(der: bytes) -> bytes | None:
    """The 32-byte seed of a PKCS#8 Ed25519 key (v1, or v2 with the public key after it)."""
    at = der.find(_ED25519_OID)
    if at < 0:
        return None
    start = der.find(_ED25519_SEED, at) + len(_ED25519_SEED)
    seed = der[start : start + 32]
    return seed if start >= len(_ED25519_SEED) and len(seed) == 32 else None


def load_key(key: bytes) -> tuple[str, bytes]:
    """(algorithm, the key as dkimpy takes it) from a key file's bytes; ConfigError if none."""
    text = key.replace(b"\r\n", b"\n").strip()
    match = _PEM.search(text)
    if match is None:  # dkimpy's own Ed25519 format: the base64 seed alone
        try:
            seed = base64.b64decode(text, validate=True)
        except binascii.Error:
            seed = b""
        if len(seed) == 32:
            return ED25519, base64.b64encode(seed)
        raise ConfigError("the DKIM key is not a PEM private key (RSA or Ed25519)")
    label, body = match.group(1), match.group(2)
    if label == b"RSA PRIVATE KEY":
        return RSA, match.group(0) + b"\n"
    if label != b"PRIVATE KEY":
        raise ConfigError(f"the DKIM key is a {label.decode()}, not an unencrypted private key")
    try:
        der = base64.b64decode(b"".join(body.split()), validate=True)
    except binascii.Error:
        raise ConfigError("the DKIM key's PEM is not valid base64") from None
    if _RSA_OID in der[:32]:
        return RSA, match.group(0) + b"\n"
    ed_seed = _ed25519_seed(der)
    if ed_seed is not None:
        return ED25519, base64.b64encode(ed_seed)
    raise ConfigError("the DKIM key is neither RSA nor Ed25519")


class DkimSigner:
    """Signs whole messages (bytes, CRLF or LF line ends) for one selector and domain."""

    def __init__(self, key_pem: bytes, selector: str, domain: str) -> None:
        self.algorithm, self._key = load_key(key_pem)
        self.selector = selector.encode("ascii")
        self.domain = domain.lower().encode("ascii")
        try:  # a key dkimpy cannot use fails here, at start-up, not at the first send
            self.sign(b"From: check@example.com\r\n\r\nkey check\r\n")
        except dkim.DKIMException as exc:
            raise ConfigError(f"the DKIM key cannot sign: {exc}") from None

    def __repr__(self) -> str:  # never the key
        return f"DkimSigner({self.algorithm}, s={self.selector.decode()}, d={self.domain.decode()})"

    def signature(self, message: bytes) -> bytes:
        """The DKIM-Signature header field, ending with the message's own line end."""
        linesep = b"\r\n" if b"\r\n" in message[:2000] else b"\n"
        return bytes(
            dkim.sign(
                message,
                self.selector,
                self.domain,
                self._key,
                canonicalize=CANONICALIZE,
                signature_algorithm=self.algorithm.encode("ascii"),
                include_headers=list(SIGNED_HEADERS),
                linesep=linesep,
            )
        )

    def sign(self, message: bytes) -> bytes:
        """The message with its DKIM-Signature header prepended."""
        return self.signature(message) + message
