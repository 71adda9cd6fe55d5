"""Signed link tokens: the mailer's fast path makes itsdangerous's tokens exactly."""

from __future__ import annotations

import pytest

from brief.errors import TokenError
from brief.tokens import (
    MANAGE,
    UNSUBSCRIBE,
    UNSUBSCRIBE_MAX_AGE,
    _serializer,
    make_token,
    read_token,
)

SECRET = "a-test-secret-of-at-least-32-characters"


@pytest.mark.parametrize("subject", [0, 1, 7, 255, 256, 123_456, 999_999_999, 2**31, 10**15, -3])
@pytest.mark.parametrize("purpose", [UNSUBSCRIBE, MANAGE])
def test_integer_tokens_are_the_serializers_own(subject: int, purpose: str) -> None:
    for _ in range(3):  # both made within the same second (the timestamp is in the token)
        made, reference = (
            make_token(SECRET, purpose, subject),
            _serializer(SECRET, purpose).dumps(subject),
        )
        if made == reference:
            break
    assert made == reference
    assert read_token(SECRET, purpose, made, UNSUBSCRIBE_MAX_AGE) == subject


def test_a_token_is_for_its_purpose_and_secret_only() -> None:
    token = make_token(SECRET, UNSUBSCRIBE, 42)
    with pytest.raises(TokenError):
        read_token(SECRET, MANAGE, token, UNSUBSCRIBE_MAX_AGE)
    with pytest.raises(TokenError):
        read_token(SECRET + "x", UNSUBSCRIBE, token, UNSUBSCRIBE_MAX_AGE)
    assert read_token(SECRET, UNSUBSCRIBE, make_token(SECRET, UNSUBSCRIBE, "ann"), 60) == "ann"
