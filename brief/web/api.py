"""The JSON API: public subscribe, and the operator's controls (bearer BRIEF_ADMIN_TOKEN)."""

from __future__ import annotations

import hmac
from datetime import date as Day
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from brief import store
from brief.db import session_scope
from brief.delivery import send_test
from brief.editions import build_edition
from brief.errors import EmptyEditionError, InputError
from brief.models import Edition, Feed
from brief.runtime import edition_plan, summarizer
from brief.subscriptions import (
    STATUSES,
    check_section,
    normalize_email,
    parse_subscriber_csv,
    start_subscription,
)
from brief.web.deps import CHECK_INBOX, Svc, ip_allowed

router = APIRouter(prefix="/api")
bearer = HTTPBearer(auto_error=False)
# Ids are database integers: anything larger is a 422, not an overflow deep down.
EditionId = Annotated[int, Path(ge=1, le=2_147_483_647)]


def operator(
    svc: Svc, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> None:
    expected = svc.settings.admin_token
    if expected is None:
        raise HTTPException(403, "the operator API is off: set BRIEF_ADMIN_TOKEN")
    given = credentials.credentials if credentials else ""
    if not hmac.compare_digest(given.encode(), expected.get_secret_value().encode()):
        raise HTTPException(
            401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"}
        )


Operator = Depends(operator)


# -- public ------------------------------------------------------------------


class SubscribeIn(BaseModel):
    email: str = Field(max_length=320)
    timezone: str | None = Field(None, max_length=64)
    sections: list[str] | None = Field(None, max_length=50)
    delivery_hour: int | None = Field(None, ge=0, le=23)


class Detail(BaseModel):
    detail: str


@router.post(
    "/subscribe",
    status_code=202,
    response_model=Detail,
    responses={400: {"model": Detail}, 429: {"model": Detail}},
)
def api_subscribe(body: SubscribeIn, request: Request, svc: Svc) -> Detail:
    """Start a double opt-in. The answer is the same whether or not the address is known."""
    if not ip_allowed(svc, request):
        raise HTTPException(429, "too many attempts; try again later")
    with session_scope(svc.engine) as session:
        start_subscription(
            session,
            body.email,
            queue=svc.queue,
            limiter=svc.limiter,
            now=svc.now(),
            timezone=body.timezone or svc.settings.timezone,
            sections=body.sections,
            delivery_hour=body.delivery_hour,
            known_sections=svc.settings.sections,
        )
    return Detail(detail=CHECK_INBOX)


# -- editions ----------------------------------------------------------------


class EditionOut(BaseModel):
    id: int
    date: Day
    status: str
    subject: str
    story_count: int
    deliveries: dict[str, int]
    stories: list[dict[str, Any]] | None = None


def _edition_out(session: Session, edition: Edition, *, stories: bool = False) -> EditionOut:
    return EditionOut(
        id=edition.id,
        date=edition.date,
        status=edition.status,
        subject=edition.subject,
        story_count=len(edition.stories),
        deliveries=store.delivery_counts(session, edition.id),
        stories=edition.stories if stories else None,
    )


class BuildIn(BaseModel):
    date: Day | None = None
    send: bool = False
    rebuild: bool = False


class BuildOut(BaseModel):
    edition: EditionOut | None = Field(description="null when there was nothing to build")
    created: bool
    send_task_id: str | None = None
    reason: str | None = Field(default=None, description="why no edition was built, when none was")


@router.get("/editions", dependencies=[Operator])
def list_editions(svc: Svc) -> list[EditionOut]:
    with session_scope(svc.engine) as session:
        return [_edition_out(session, e) for e in store.list_editions(session)]


NOTHING_TO_BUILD = (
    "No story in the edition's window (the feeds had nothing new, or failed): no edition "
    "is made and nothing is queued. `edition` is null, `created` false, `reason` says why."
)


@router.post(
    "/editions",
    status_code=201,
    dependencies=[Operator],
    responses={200: {"model": BuildOut, "description": NOTHING_TO_BUILD}},
)
def create_edition(body: BuildIn, svc: Svc, response: Response) -> BuildOut:
    """Build an edition now (default today); with `send`, queue its sending.

    201 with the edition (`created` false when that date was already built).
    200 with `edition: null` and a `reason` when there is nothing to build: not a
    client error, and the date stays free for a later run.
    """
    plan = edition_plan(svc.settings)
    now = svc.now()
    try:
        with session_scope(svc.engine) as session:
            edition, created = build_edition(
                session,
                plan,
                svc.ctx,
                day=body.date or plan.today(now),
                now=now,
                rebuild=body.rebuild,
                summarizer=summarizer(svc.settings),
            )
            out = _edition_out(session, edition, stories=True)
    except EmptyEditionError as exc:
        response.status_code = 200
        return BuildOut(edition=None, created=False, reason=str(exc))
    task_id = svc.queue.send("brief.send_edition", out.id) if body.send else None
    return BuildOut(edition=out, created=created, send_task_id=task_id)


@router.get("/editions/{edition_id}", dependencies=[Operator])
def get_edition(edition_id: EditionId, svc: Svc) -> EditionOut:
    """An edition with its stories; `deliveries` counts by status show a send's progress."""
    with session_scope(svc.engine) as session:
        return _edition_out(session, store.get_edition(session, edition_id), stories=True)


class SendOut(BaseModel):
    task_id: str
    progress_url: str


@router.post("/editions/{edition_id}/send", status_code=202, dependencies=[Operator])
def send_edition(edition_id: EditionId, svc: Svc) -> SendOut:
    with session_scope(svc.engine) as session:
        store.get_edition(session, edition_id)
    task_id = svc.queue.send("brief.send_edition", edition_id)
    return SendOut(task_id=task_id, progress_url=f"/api/editions/{edition_id}")


class TestSendIn(BaseModel):
    to: list[str] = Field(min_length=1, max_length=10)


class TestSendResult(BaseModel):
    to: str
    status: str
    detail: str


@router.post("/editions/{edition_id}/test-send", dependencies=[Operator])
def test_send(edition_id: EditionId, body: TestSendIn, svc: Svc) -> list[TestSendResult]:
    """Send the edition only to these addresses, marked as a test; no delivery is recorded."""
    addresses = [normalize_email(a) for a in body.to]
    with session_scope(svc.engine) as session:
        results = send_test(session, edition_id, addresses, svc.sender, svc.ctx, svc.now())
    return [
        TestSendResult(to=r.recipient, status=r.status, detail=r.error or r.where) for r in results
    ]


@router.get("/editions/{edition_id}/preview", response_class=HTMLResponse, dependencies=[Operator])
def preview(edition_id: EditionId, svc: Svc) -> HTMLResponse:
    with session_scope(svc.engine) as session:
        return HTMLResponse(store.get_edition(session, edition_id).html)


# -- feeds -------------------------------------------------------------------


class FeedIn(BaseModel):
    url: str = Field(max_length=2048)
    section: str = Field("world", max_length=64)
    title: str | None = Field(None, max_length=500)


class FeedOut(BaseModel):
    id: int
    url: str
    title: str | None
    section: str
    error_count: int
    last_error: str | None


def _feed_out(feed: Feed) -> FeedOut:
    return FeedOut(
        id=feed.id,
        url=feed.url,
        title=feed.title,
        section=feed.section,
        error_count=feed.error_count,
        last_error=feed.last_error,
    )


@router.get("/feeds", dependencies=[Operator])
def list_feeds(svc: Svc) -> list[FeedOut]:
    with session_scope(svc.engine) as session:
        return [_feed_out(f) for f in store.list_feeds(session)]


@router.post("/feeds", status_code=201, dependencies=[Operator])
def add_feed(body: FeedIn, svc: Svc) -> FeedOut:
    with session_scope(svc.engine) as session:
        section = check_section(body.section, svc.settings.sections)
        feed, _ = store.add_feed(session, body.url, section, body.title)
        return _feed_out(feed)


@router.delete("/feeds", status_code=204, dependencies=[Operator])
def remove_feed(url: str, svc: Svc) -> None:
    with session_scope(svc.engine) as session:
        store.remove_feed(session, url)


# -- subscribers -------------------------------------------------------------


class SubscriberOut(BaseModel):
    id: int
    email: str
    status: str
    status_reason: str | None = Field(
        None, description="hard-bounce, soft-bounces, complaint, send-refused or operator"
    )
    timezone: str
    delivery_hour: int | None
    sections: list[str] | None


class SubscriberPage(BaseModel):
    total: int
    page: int
    per_page: int
    items: list[SubscriberOut]


@router.get("/subscribers", dependencies=[Operator])
def list_subscribers(
    svc: Svc,
    status: Annotated[str | None, Query(max_length=20)] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=500)] = 50,
) -> SubscriberPage:
    if status is not None and status not in STATUSES:
        raise InputError(f"unknown status {status!r}; one of {', '.join(STATUSES)}")
    with session_scope(svc.engine) as session:
        total, rows = store.page_subscribers(session, status, page=page, per_page=per_page)
        items = [
            SubscriberOut(
                id=s.id,
                email=s.email,
                status=s.status,
                status_reason=s.status_reason,
                timezone=s.timezone,
                delivery_hour=s.delivery_hour,
                sections=s.sections,
            )
            for s in rows
        ]
    return SubscriberPage(total=total, page=page, per_page=per_page, items=items)


class ImportOut(BaseModel):
    added: int
    updated: int
    held_back: list[dict[str, Any]] = Field(
        description="bounced, suspended or complained addresses left as they are (force=true)"
    )
    rejected: list[dict[str, Any]]


@router.post(
    "/subscribers/import",
    dependencies=[Operator],
    openapi_extra={
        "requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}, "required": True}
    },
)
async def import_subscribers(request: Request, svc: Svc, force: bool = False) -> ImportOut:
    """CSV body, one `email[,timezone[,sections]]` a line; the operator vouches: active.

    Addresses that bounced, were suspended or complained are held back, unchanged,
    unless `force=true`.
    """
    try:
        text = (await request.body()).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("the CSV must be UTF-8") from None
    rows, rejected = parse_subscriber_csv(text, svc.settings.sections)
    added, held = 0, []
    with session_scope(svc.engine) as session:
        for row in rows:
            sub, created = store.add_subscriber(
                session,
                row.email,
                now=svc.now(),
                timezone=row.timezone,
                sections=row.sections,
                force=force,
            )
            added += created
            if store.held_back(sub):
                held.append({"email": sub.email, "status": sub.status, "reason": sub.status_reason})
    return ImportOut(
        added=added,
        updated=len(rows) - added - len(held),
        held_back=held,
        rejected=[{"line": r.line, "value": r.value, "reason": r.reason} for r in rejected],
    )


class Stats(BaseModel):
    subscribers: dict[str, int]
    subscriber_reasons: dict[str, dict[str, int]] = Field(
        description="{status: {reason: count}}, e.g. bounced: {hard-bounce: 3}"
    )
    mail_events: dict[str, int] = Field(description="bounces, complaints, refusals by kind")
    deliveries: dict[str, int]
    last_edition: EditionOut | None
    failing_feeds: list[FeedOut]


@router.get("/stats", dependencies=[Operator])
def stats(svc: Svc) -> Stats:
    with session_scope(svc.engine) as session:
        latest = store.latest_edition(session)
        return Stats(
            subscribers=store.subscribers_by_status(session),
            subscriber_reasons=store.subscribers_by_reason(session),
            mail_events=store.mail_events_by_kind(session),
            deliveries=store.deliveries_by_status(session),
            last_edition=_edition_out(session, latest) if latest else None,
            failing_feeds=[_feed_out(f) for f in store.failing_feeds(session)],
        )
