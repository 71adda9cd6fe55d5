"""DKIM signing speed: messages per second on one core, RSA 2048 and Ed25519.

Each message is the digest golden email (tests/data/email/digest.*: about 25 kB once
encoded) built by brief.mail.message.build_message for a different recipient, then
signed with brief.mail.dkim.DkimSigner (dkimpy). Keys are made for the run with
`cryptography`. Timed: `DkimSigner.sign` alone (bytes in, signed bytes out); the
first signature of each key is checked with dkimpy's verifier.

dkimpy computes RSA in pure Python (CRT, Python integers); the last line shows what
OpenSSL's RSA (via `cryptography`) takes for the same signature, for comparison.

    python bench/dkim.py [--messages 500]
"""

from __future__ import annotations

import argparse
import base64
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

# Run as a script, this file's folder is sys.path[0], where its name would hide dkimpy's.
sys.path.remove(str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dkim
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from brief.mail.dkim import DkimSigner
from brief.mail.message import build_message
from brief.types import RenderedEmail

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "email"
SELECTOR, DOMAIN = "bench", "example.com"


def messages(count: int) -> list[bytes]:
    rendered = RenderedEmail(
        subject=(DATA / "digest.subject.txt").read_text().strip(),
        text=(DATA / "digest.txt").read_text(),
        html=(DATA / "digest.html").read_text(),
    )
    out = []
    for n in range(count):
        msg = build_message(
            rendered,
            sender="Daily Brief <brief@example.com>",
            to=f"reader{n}@example.org",
            message_id=f"<brief.digest.2026-11-25.{n}@example.com>",
            date=datetime(2026, 11, 25, 6, tzinfo=UTC),
            unsubscribe_url=f"https://brief.example.com/unsubscribe/token{n}",
            unsubscribe_mailto="brief@example.com",
        )
        out.append(msg.as_bytes(policy=msg.policy.clone(linesep="\r\n")))
    return out


def rate(signer: DkimSigner, batch: list[bytes]) -> float:
    start = time.perf_counter()
    for message in batch:
        signer.sign(message)
    return len(batch) / (time.perf_counter() - start)


def check(signer: DkimSigner, message: bytes, txt: bytes) -> None:
    def lookup(name: bytes, timeout: int = 5) -> bytes:
        return txt

    if not dkim.verify(signer.sign(message), dnsfunc=lookup):
        raise SystemExit(f"{signer!r}: the signature does not verify")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=500)
    args = parser.parse_args()
    batch = messages(args.messages)
    print(f"{len(batch)} messages of {sum(map(len, batch)) // len(batch):,} bytes on average")

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rsa_pem = rsa_key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption())
    spki = rsa_key.public_key().public_bytes(
        ser.Encoding.DER, ser.PublicFormat.SubjectPublicKeyInfo
    )
    ed_key = ed25519.Ed25519PrivateKey.generate()
    ed_pem = ed_key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption())
    ed_raw = ed_key.public_key().public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw)

    for name, pem, txt in (
        ("rsa-sha256 (2048)", rsa_pem, b"v=DKIM1; k=rsa; p=" + base64.b64encode(spki)),
        ("ed25519-sha256", ed_pem, b"v=DKIM1; k=ed25519; p=" + base64.b64encode(ed_raw)),
    ):
        signer = DkimSigner(pem, SELECTOR, DOMAIN)
        check(signer, batch[0], txt)
        print(f"{name:<20} {rate(signer, batch):8.0f} messages/s")

    start = time.perf_counter()
    for message in batch:
        rsa_key.sign(message[:64], padding.PKCS1v15(), hashes.SHA256())
    openssl = len(batch) / (time.perf_counter() - start)
    print(f"{'(OpenSSL RSA 2048)':<20} {openssl:8.0f} signatures/s, the RSA operation alone")


if __name__ == "__main__":
    main()
