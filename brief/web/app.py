"""create_app(settings): the FastAPI application, its services built once at start."""

from __future__ import annotations

import logging

import kombu.exceptions
import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.templating import Jinja2Templates
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from brief import runtime
from brief.config import Settings
from brief.errors import BriefError, ForbiddenError, InputError, NotFoundError
from brief.mail.senders import EmailSender
from brief.ratelimit import RateLimiter, make_rate_limiter
from brief.taskqueue import CeleryQueue, TaskQueue
from brief.templating import make_env
from brief.web import api, pages
from brief.web.deps import Services, services
from brief.web.security import BodyLimit, SecurityHeaders

log = logging.getLogger(__name__)

# The database or the broker not answering: 503, not 500.
_SERVICE_ERRORS: tuple[type[Exception], ...] = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    kombu.exceptions.OperationalError,
)
UNAVAILABLE = (
    "The service is briefly unavailable and nothing was changed; please try again in a minute."
)
FORM_MAX_BYTES = 64 * 1024
IMPORT_MAX_BYTES = 5 * 1024 * 1024


def _status(exc: BriefError) -> int:
    """The HTTP status of an error no route handled itself."""
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, ForbiddenError):
        return 403
    return 400 if isinstance(exc, InputError) else 500


def create_app(
    settings: Settings,
    *,
    queue: TaskQueue | None = None,
    limiter: RateLimiter | None = None,
    sender: EmailSender | None = None,
) -> FastAPI:
    app = FastAPI(
        title=f"{settings.name} API",
        description="Subscribe to the daily brief, and operate it (bearer token).",
        version="1",
    )
    app.state.services = Services(
        settings=settings,
        engine=runtime.database(settings),
        queue=queue or CeleryQueue(settings),
        limiter=limiter or make_rate_limiter(settings.rate_limit_redis_url),
        sender=sender or runtime.sender(settings),
        ctx=runtime.mail_context(settings),
        templates=Jinja2Templates(env=make_env()),
    )
    app.add_middleware(SecurityHeaders)
    app.add_middleware(
        BodyLimit,
        max_bytes=FORM_MAX_BYTES,
        large_paths={"/api/subscribers/import": IMPORT_MAX_BYTES},
    )
    if settings.trusted_proxies:
        # Outermost: the client address it sets is what the rate limits count.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    app.include_router(pages.router)
    app.include_router(api.router)

    def answer(
        request: Request, status: int, message: str, headers: dict[str, str] | None = None
    ) -> HTMLResponse | JSONResponse:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": message}, status_code=status, headers=headers)
        page = (
            services(request)
            .templates.get_template("web/message.html")
            .render(brief_name=settings.name, title="Sorry", message=message, links=[("/", "Home")])
        )
        return HTMLResponse(page, status_code=status, headers=headers)

    @app.exception_handler(BriefError)
    async def brief_error(request: Request, exc: BriefError) -> HTMLResponse | JSONResponse:
        return answer(request, _status(exc), str(exc))

    async def unavailable(request: Request, exc: Exception) -> HTMLResponse | JSONResponse:
        # The database or the broker is away (restarting, say): not the visitor's
        # fault, and gone in a moment. Nothing was changed half-way: each request
        # commits once, at its end.
        log.warning("%s %s: %s: %s", request.method, request.url.path, type(exc).__name__, exc)
        return answer(request, 503, UNAVAILABLE, {"Retry-After": "60"})

    for error in _SERVICE_ERRORS:
        app.add_exception_handler(error, unavailable)
    return app


def app_from_env() -> FastAPI:
    """For `uvicorn --factory brief.web.app:app_from_env`."""
    from brief.config import load_settings

    return create_app(load_settings())
