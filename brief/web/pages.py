"""The public pages: subscribe, confirm, preferences, unsubscribe, archive, feed, health."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from xml.etree import ElementTree as ET

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy import text

from brief import store, subscriptions, tokens
from brief.db import session_scope
from brief.errors import ForbiddenError, InputError, NotFoundError
from brief.subscriptions import check_hour, check_sections, check_timezone
from brief.tokens import UNSUBSCRIBE, UNSUBSCRIBE_MAX_AGE, read_subscriber_id
from brief.web.deps import CHECK_INBOX, Services, Svc, ip_allowed
from brief.web.security import (
    CSRF_COOKIE,
    CSRF_FIELD,
    HONEYPOT_FIELD,
    csrf_ok,
    csrf_token,
    new_csrf_cookie,
)

router = APIRouter(include_in_schema=False)


APP_JS = """document.addEventListener("DOMContentLoaded", function () {
  var tz = document.querySelector("input[name=timezone][data-auto]");
  if (tz && window.Intl) {
    try { tz.value = Intl.DateTimeFormat().resolvedOptions().timeZone || tz.value; } catch (e) {}
  }
});
"""


def _page(
    svc: Services, request: Request, name: str, status: int = 200, **context: Any
) -> HTMLResponse:
    """Render a page with a CSRF token for its forms, setting the cookie when missing."""
    cookie = request.cookies.get(CSRF_COOKIE) or new_csrf_cookie()
    secret = svc.settings.secret_key.get_secret_value()
    html = svc.templates.get_template(name).render(
        brief_name=svc.settings.name,
        csrf_field=CSRF_FIELD,
        csrf=csrf_token(secret, cookie),
        honeypot_field=HONEYPOT_FIELD,
        **context,
    )
    response = HTMLResponse(html, status_code=status)
    if request.cookies.get(CSRF_COOKIE) != cookie:
        response.set_cookie(
            CSRF_COOKIE,
            cookie,
            httponly=True,
            samesite="strict",
            secure=svc.settings.base_url.startswith("https://"),
        )
    return response


def _message(
    svc: Services,
    request: Request,
    title: str,
    message: str,
    status: int = 200,
    links: list[tuple[str, str]] | None = None,
) -> HTMLResponse:
    return _page(
        svc,
        request,
        "web/message.html",
        status,
        title=title,
        message=message,
        links=links or [("/", "Home")],
    )


def _check_csrf(svc: Services, request: Request, field: str | None) -> None:
    if not csrf_ok(
        svc.settings.secret_key.get_secret_value(), request.cookies.get(CSRF_COOKIE), field
    ):
        raise ForbiddenError("this form has expired: reload the page and send it again")


def _hour(value: str) -> int | None:
    """A form's delivery hour: '' is "as soon as the edition is out"."""
    text = value.strip()
    if not text:
        return None
    # isdecimal, not isdigit: int() refuses digits such as "²", which isdigit accepts.
    if not text.isdecimal():
        raise InputError("delivery hour must be a number from 0 to 23")
    return check_hour(int(text))


@router.get("/", response_class=HTMLResponse)
def home(request: Request, svc: Svc) -> HTMLResponse:
    with session_scope(svc.engine) as session:
        latest = store.latest_edition(session)
        edition = None
        if latest is not None:
            edition = {"date": latest.date, "stories": latest.stories[:12]}
    return _page(
        svc,
        request,
        "web/index.html",
        edition=edition,
        sections=svc.settings.sections,
        timezone=svc.settings.timezone,
        error=None,
    )


@router.post("/subscribe", response_class=HTMLResponse)
def subscribe_form(
    request: Request,
    svc: Svc,
    email: Annotated[str, Form(max_length=320)] = "",
    timezone: Annotated[str, Form(max_length=64)] = "",
    delivery_hour: Annotated[str, Form(max_length=2)] = "",
    sections: Annotated[list[str] | None, Form()] = None,
    honeypot: Annotated[str, Form(alias=HONEYPOT_FIELD, max_length=200)] = "",
    csrf: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
) -> HTMLResponse:
    try:
        _check_csrf(svc, request, csrf)
    except ForbiddenError:
        return _message(
            svc,
            request,
            "Please try again",
            "This form has expired. Reload the page and send it again.",
            403,
        )
    if honeypot:  # the honeypot: people never fill a hidden field, bots do
        return _message(svc, request, "Almost done", CHECK_INBOX)
    if not ip_allowed(svc, request):
        return _message(svc, request, "Slow down", "Too many attempts; try again later.", 429)
    try:
        with session_scope(svc.engine) as session:
            subscriptions.start_subscription(
                session,
                email,
                queue=svc.queue,
                limiter=svc.limiter,
                now=svc.now(),
                timezone=timezone.strip() or svc.settings.timezone,
                sections=sections,
                delivery_hour=_hour(delivery_hour),
                known_sections=svc.settings.sections,
            )
    except InputError as exc:
        return _page(
            svc,
            request,
            "web/index.html",
            400,
            edition=None,
            sections=svc.settings.sections,
            timezone=svc.settings.timezone,
            error=str(exc),
        )
    return _message(svc, request, "Almost done", CHECK_INBOX)


@router.get("/confirm/{token}", response_class=HTMLResponse)
def confirm(token: str, request: Request, svc: Svc) -> Response:
    max_age = svc.settings.confirm_max_age_hours * 3600
    subscriber_id = read_subscriber_id(
        svc.settings.secret_key.get_secret_value(), tokens.CONFIRM, token, max_age
    )
    with session_scope(svc.engine) as session:
        _, newly = subscriptions.confirm(session, subscriber_id, svc.now())
    if newly:
        svc.queue.send("brief.send_welcome", subscriber_id)
    url = svc.ctx.links.preferences(subscriber_id).removeprefix(svc.settings.base_url)
    return RedirectResponse(f"{url}?confirmed=1", status_code=303)


def _manage_id(svc: Services, token: str) -> int:
    return read_subscriber_id(
        svc.settings.secret_key.get_secret_value(), tokens.MANAGE, token, tokens.MANAGE_MAX_AGE
    )


def _preferences_page(
    svc: Services, request: Request, token: str, *, notice: str | None, status: int = 200
) -> HTMLResponse:
    subscriber_id = _manage_id(svc, token)
    with session_scope(svc.engine) as session:
        sub = store.get_subscriber(session, subscriber_id)
        view = {
            "email": sub.email,
            "status": sub.status,
            "timezone": sub.timezone,
            "delivery_hour": sub.delivery_hour,
            "sections": sub.sections or [],
        }
    unsubscribe_url = svc.ctx.links.unsubscribe(subscriber_id)
    return _page(
        svc,
        request,
        "web/preferences.html",
        status,
        sub=view,
        sections=svc.settings.sections,
        notice=notice,
        token=token,
        unsubscribe_path=unsubscribe_url.removeprefix(svc.settings.base_url),
    )


@router.get("/preferences/{token}", response_class=HTMLResponse)
def preferences(token: str, request: Request, svc: Svc, confirmed: int = 0) -> HTMLResponse:
    notice = "Your subscription is confirmed. Welcome!" if confirmed else None
    return _preferences_page(svc, request, token, notice=notice)


@router.post("/preferences/{token}", response_class=HTMLResponse)
def save_preferences(
    token: str,
    request: Request,
    svc: Svc,
    timezone: Annotated[str, Form(max_length=64)] = "UTC",
    delivery_hour: Annotated[str, Form(max_length=2)] = "",
    sections: Annotated[list[str] | None, Form()] = None,
    paused: Annotated[str, Form(max_length=5)] = "",
    csrf: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
) -> HTMLResponse:
    subscriber_id = _manage_id(svc, token)
    try:
        _check_csrf(svc, request, csrf)
    except ForbiddenError:
        return _preferences_page(
            svc,
            request,
            token,
            status=403,
            notice="This form has expired; nothing was changed. Try again.",
        )
    wanted = check_sections(sections or [], svc.settings.sections)
    hour = _hour(delivery_hour)
    with session_scope(svc.engine) as session:
        subscriptions.update_preferences(
            session,
            subscriber_id,
            sections=wanted,
            timezone=check_timezone(timezone),
            delivery_hour=hour,
            paused=bool(paused),
        )
    return _preferences_page(svc, request, token, notice="Saved.")


def _unsubscribe_id(svc: Services, token: str) -> int:
    return read_subscriber_id(
        svc.settings.secret_key.get_secret_value(), UNSUBSCRIBE, token, UNSUBSCRIBE_MAX_AGE
    )


@router.get("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe_form(token: str, request: Request, svc: Svc) -> HTMLResponse:
    # Mail scanners fetch links: a GET only shows the button, the POST acts.
    subscriber_id = _unsubscribe_id(svc, token)
    with session_scope(svc.engine) as session:
        email = store.get_subscriber(session, subscriber_id).email
    return _page(svc, request, "web/unsubscribe.html", email=email, token=token)


@router.post("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe(token: str, request: Request, svc: Svc) -> HTMLResponse:
    """RFC 8058 one-click: no cookie, no CSRF token; the signed token is the authority."""
    subscriber_id = _unsubscribe_id(svc, token)
    with session_scope(svc.engine) as session:
        email = subscriptions.unsubscribe(session, subscriber_id, svc.now()).email
    return _message(
        svc,
        request,
        "You are unsubscribed",
        f"{email} will get no more emails from {svc.settings.name}.",
        links=[("/", "Changed your mind? Subscribe again")],
    )


@router.get("/archive", response_class=HTMLResponse)
def archive(request: Request, svc: Svc) -> HTMLResponse:
    with session_scope(svc.engine) as session:
        editions = [
            {"date": e.date, "subject": e.subject, "stories": len(e.stories)}
            for e in store.list_editions(session)
        ]
    return _page(svc, request, "web/archive.html", editions=editions)


def _edition_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise NotFoundError(f"no edition for {value!r}") from None


@router.get("/editions/{day}", response_class=HTMLResponse)
def edition(day: str, svc: Svc) -> HTMLResponse:
    with session_scope(svc.engine) as session:
        found = store.edition_for_date(session, _edition_date(day))
        if found is None:
            raise NotFoundError(f"no edition for {day}")
        return HTMLResponse(found.html)


@router.get("/feed.xml")
def feed(svc: Svc) -> Response:
    atom = "http://www.w3.org/2005/Atom"
    ET.register_namespace("", atom)
    root = ET.Element(f"{{{atom}}}feed")
    base = svc.settings.base_url
    ET.SubElement(root, f"{{{atom}}}title").text = svc.settings.name
    ET.SubElement(root, f"{{{atom}}}id").text = f"{base}/feed.xml"
    ET.SubElement(root, f"{{{atom}}}link", href=f"{base}/feed.xml", rel="self")
    ET.SubElement(root, f"{{{atom}}}link", href=f"{base}/archive")
    with session_scope(svc.engine) as session:
        editions = store.list_editions(session)[:30]
        updated = editions[0].created_at if editions else svc.now()
        ET.SubElement(root, f"{{{atom}}}updated").text = updated.isoformat()
        for e in editions:
            entry = ET.SubElement(root, f"{{{atom}}}entry")
            url = f"{base}/editions/{e.date.isoformat()}"
            ET.SubElement(entry, f"{{{atom}}}title").text = e.subject or str(e.date)
            ET.SubElement(entry, f"{{{atom}}}id").text = url
            ET.SubElement(entry, f"{{{atom}}}link", href=url)
            ET.SubElement(entry, f"{{{atom}}}updated").text = e.created_at.isoformat()
            ET.SubElement(entry, f"{{{atom}}}content", type="html").text = e.html
    body = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return Response(body, media_type="application/atom+xml")


@router.get("/healthz")
def healthz(svc: Svc) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        with svc.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # report, don't crash: this is what health checks are for
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        svc.queue.ping()
        checks["broker"] = "ok"
    except Exception as exc:
        checks["broker"] = f"error: {type(exc).__name__}"
    healthy = all(v == "ok" for v in checks.values())
    return JSONResponse(checks, status_code=200 if healthy else 503)


@router.get("/static/app.js")
def app_js() -> Response:
    return Response(APP_JS, media_type="text/javascript")
