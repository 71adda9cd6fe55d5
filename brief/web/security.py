"""Request hygiene: security headers, body size, CSRF tokens, client rate limits."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable

from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp

CSRF_COOKIE = "brief_csrf"
CSRF_FIELD = "csrf_token"
HONEYPOT_FIELD = "website"  # a hidden form field only bots fill in

# Tokens travel in URLs (/confirm/<token>): never leak them through Referer.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' https: data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


class SecurityHeaders(BaseHTTPMiddleware):
    async def dispatch(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response


class BodyLimit:
    """Refuse request bodies over a size (413) before anything reads them whole."""

    def __init__(self, app: ASGIApp, max_bytes: int, large_paths: dict[str, int]) -> None:
        self.app, self.max_bytes, self.large_paths = app, max_bytes, large_paths

    async def __call__(self, scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.large_paths.get(scope["path"], self.max_bytes)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await PlainTextResponse("request body too large", 413)(scope, receive, send)
            return
        if declared is None:  # chunked, or no body: read it here, up to the limit
            body = await _read_body(receive, limit)
            if body is None:
                await PlainTextResponse("request body too large", 413)(scope, receive, send)
                return
            await self.app(scope, _replay(body, receive), send)
            return
        seen = 0

        async def limited_receive():  # type: ignore[no-untyped-def]
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _TooLarge:
            await PlainTextResponse("request body too large", 413)(scope, receive, send)


class _TooLarge(Exception):
    pass


async def _read_body(receive, limit: int) -> bytes | None:  # type: ignore[no-untyped-def]
    """The whole body of a request that did not declare its length; None past `limit`.

    Read before the app runs: the app's body parsing turns any error raised while
    reading into a 400 (FastAPI does), so a streamed check could not answer 413.
    """
    chunks: list[bytes] = []
    seen = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            return b"".join(chunks)
        chunk = message.get("body", b"")
        seen += len(chunk)
        if seen > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def _replay(body: bytes, receive):  # type: ignore[no-untyped-def]
    """A receive that gives the app the body read already, then the real receive."""
    sent = False

    async def replay():  # type: ignore[no-untyped-def]
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def new_csrf_cookie() -> str:
    return secrets.token_urlsafe(24)


def csrf_token(secret: str, cookie: str) -> str:
    """The form field that goes with a cookie: only this site can compute it."""
    return hmac.new(secret.encode(), f"csrf:{cookie}".encode(), hashlib.sha256).hexdigest()


def csrf_ok(secret: str, cookie: str | None, field: str | None) -> bool:
    if not cookie or not field:
        return False
    return hmac.compare_digest(csrf_token(secret, cookie), field)


def client_ip(request: Request) -> str:
    # Behind a proxy listed in BRIEF_TRUSTED_PROXIES, the app has set this from
    # X-Forwarded-For already; from anyone else that header is ignored.
    return request.client.host if request.client else "unknown"
