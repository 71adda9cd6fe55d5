"""DKIM: real messages signed with RSA and Ed25519 keys, verified by dkimpy with the
public key served by an injected DNS lookup (as a receiver would fetch it)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from brief.config import Settings
from brief.errors import ConfigError
from brief.mail.dkim import ED25519, RSA, DkimSigner
from brief.runtime import dkim_signer
from tests.unit.test_message import build, wire

SELECTOR, DOMAIN = "brief2026", "example.com"
NO_ENCRYPTION = ser.NoEncryption()
Key = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ed_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


def pem(key: Key, form: ser.PrivateFormat = ser.PrivateFormat.PKCS8) -> bytes:
    return key.private_bytes(ser.Encoding.PEM, form, NO_ENCRYPTION)


def txt_record(key: Key) -> bytes:
    """The TXT record an operator publishes at <selector>._domainkey.<domain>."""
    public = key.public_key()
    if isinstance(public, ed25519.Ed25519PublicKey):
        raw = public.public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw)
        return b"v=DKIM1; k=ed25519; p=" + base64.b64encode(raw)
    der = public.public_bytes(ser.Encoding.DER, ser.PublicFormat.SubjectPublicKeyInfo)
    return b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)


def dns(key: Key, selector: str = SELECTOR, domain: str = DOMAIN) -> Callable[..., bytes | None]:
    asked: list[bytes] = []

    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        asked.append(name)
        return txt_record(key) if name == f"{selector}._domainkey.{domain}.".encode() else None

    return lookup


def digest_bytes(to: str = "reader@example.org") -> bytes:
    return wire(build(to=to))


def verify(message: bytes, key: Key) -> bool:
    return bool(dkim.verify(message, dnsfunc=dns(key)))


@pytest.mark.parametrize(
    ("which", "form", "algorithm"),
    [
        ("rsa", ser.PrivateFormat.PKCS8, RSA),
        ("rsa", ser.PrivateFormat.TraditionalOpenSSL, RSA),  # BEGIN RSA PRIVATE KEY
        ("ed", ser.PrivateFormat.PKCS8, ED25519),
    ],
)
def test_signed_messages_verify_with_the_published_key(
    which: str,
    form: ser.PrivateFormat,
    algorithm: str,
    rsa_key: rsa.RSAPrivateKey,
    ed_key: ed25519.Ed25519PrivateKey,
) -> None:
    key: Key = rsa_key if which == "rsa" else ed_key
    signer = DkimSigner(pem(key, form), SELECTOR, DOMAIN)
    assert signer.algorithm == algorithm
    for to in ("ana@example.org", "ben@example.net"):
        signed = signer.sign(digest_bytes(to))
        assert signed.startswith(b"DKIM-Signature: ")
        assert f"a={algorithm};".encode() in signed.split(b"\r\n\r\n")[0]
        assert verify(signed, key)


def test_the_signed_headers_are_the_ones_that_matter(rsa_key: rsa.RSAPrivateKey) -> None:
    signed = DkimSigner(pem(rsa_key), SELECTOR, DOMAIN).sign(digest_bytes())
    header = signed.split(b"\r\n\r\n")[0].split(b"\r\nFrom:")[0]
    tags = dict(
        part.strip().split(b"=", 1) for part in b"".join(header.split()).split(b";") if b"=" in part
    )
    assert tags[b"DKIM-Signature:v"] == b"1"
    assert (tags[b"d"], tags[b"s"]) == (b"example.com", b"brief2026")
    assert tags[b"c"] == b"relaxed/simple"
    assert tags[b"h"].split(b":") == [
        b"from",
        b"to",
        b"subject",
        b"date",
        b"message-id",
        b"list-unsubscribe",
        b"list-unsubscribe-post",
        b"mime-version",
        b"content-type",
    ]


@pytest.mark.parametrize("which", ["rsa", "ed"])
def test_a_changed_body_or_signed_header_fails(
    which: str, rsa_key: rsa.RSAPrivateKey, ed_key: ed25519.Ed25519PrivateKey
) -> None:
    key: Key = rsa_key if which == "rsa" else ed_key
    signed = DkimSigner(pem(key), SELECTOR, DOMAIN).sign(digest_bytes())
    head, body = signed.split(b"\r\n\r\n", 1)
    assert verify(signed, key)
    tampered_body = head + b"\r\n\r\n" + body.replace(b"Paris", b"Lyon", 1)
    assert tampered_body != signed and not verify(tampered_body, key)
    tampered_subject = signed.replace(b"Subject: Daily Brief", b"Subject: Weekly Brief", 1)
    assert tampered_subject != signed and not verify(tampered_subject, key)
    added = signed.replace(b"\r\n\r\n", b"\r\nList-Unsubscribe-Post: nope\r\n\r\n", 1)
    assert not verify(added, key)
    other_key = ed25519.Ed25519PrivateKey.generate() if which == "ed" else None
    if other_key is not None:
        assert not verify(signed, other_key)


def test_lf_messages_keep_their_line_ends(ed_key: ed25519.Ed25519PrivateKey) -> None:
    message = digest_bytes().replace(b"\r\n", b"\n")
    signed = DkimSigner(pem(ed_key), SELECTOR, DOMAIN).sign(message)
    assert b"\r\n" not in signed and verify(signed, ed_key)


def test_dkimpys_own_ed25519_key_format(ed_key: ed25519.Ed25519PrivateKey) -> None:
    seed = ed_key.private_bytes(ser.Encoding.Raw, ser.PrivateFormat.Raw, NO_ENCRYPTION)
    signer = DkimSigner(base64.b64encode(seed) + b"\n", SELECTOR, DOMAIN)
    assert signer.algorithm == ED25519 and verify(signer.sign(digest_bytes()), ed_key)


@pytest.mark.parametrize(
    ("key", "error"),
    [
        (b"", "not a PEM private key"),
        (b"hello", "not a PEM private key"),
        (b"-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n", "PUBLIC KEY"),
        (b"-----BEGIN PRIVATE KEY-----\nMCowBQYDK2VwAyEA\n-----END PRIVATE KEY-----\n", "neither"),
        (b"-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n", "cannot sign"),
    ],
)
def test_what_is_not_a_usable_key_is_refused(key: bytes, error: str) -> None:
    with pytest.raises(ConfigError, match=error):
        DkimSigner(key, SELECTOR, DOMAIN)


def test_repr_shows_no_key(ed_key: ed25519.Ed25519PrivateKey) -> None:
    text = repr(DkimSigner(pem(ed_key), SELECTOR, DOMAIN))
    assert text == "DkimSigner(ed25519-sha256, s=brief2026, d=example.com)"


# -- from settings -------------------------------------------------------------


def settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path, mail_from="B <b@news.example>", **values)  # type: ignore[call-arg]


def test_the_signer_comes_from_settings(tmp_path: Path, ed_key: ed25519.Ed25519PrivateKey) -> None:
    assert dkim_signer(settings(tmp_path)) is None
    key_file = tmp_path / "dkim.pem"
    key_file.write_bytes(pem(ed_key))
    signer = dkim_signer(settings(tmp_path, dkim_key_file=key_file, dkim_selector="s1"))
    assert signer is not None and (signer.domain, signer.selector) == (b"news.example", b"s1")
    other = dkim_signer(
        settings(tmp_path, dkim_key_file=key_file, dkim_selector="s1", dkim_domain="Example.COM")
    )
    assert other is not None and other.domain == b"example.com"


@pytest.mark.parametrize(
    ("content", "selector", "error"),
    [
        (None, "s1", "cannot read"),
        (b"not a key", "s1", "not a PEM private key"),
        (b"", None, "go together"),
    ],
)
def test_a_bad_dkim_setting_is_one_line(
    tmp_path: Path, content: bytes | None, selector: str | None, error: str
) -> None:
    key_file = tmp_path / "dkim.pem"
    if content is not None:
        key_file.write_bytes(content)
    with pytest.raises(ConfigError, match=error) as caught:
        dkim_signer(settings(tmp_path, dkim_key_file=key_file, dkim_selector=selector))
    assert "\n" not in str(caught.value) and str(caught.value).startswith("bad setting: BRIEF_DKIM")
