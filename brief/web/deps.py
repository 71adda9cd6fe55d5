"""What the routes share: the services create_app builds once, and the subscribe limits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine

from brief.config import Settings
from brief.mail.senders import EmailSender
from brief.ratelimit import RateLimiter
from brief.taskqueue import TaskQueue
from brief.types import SiteContext
from brief.web.security import client_ip

SUBSCRIBES_PER_IP_PER_HOUR = 20
# The one answer to a subscribe, whether the address is new, pending or active.
CHECK_INBOX = (
    "Check your inbox: if this address can receive the brief, a message with a confirmation "
    "link is on its way. Nothing will be sent until you follow it."
)


@dataclass
class Services:
    settings: Settings
    engine: Engine
    queue: TaskQueue
    limiter: RateLimiter
    sender: EmailSender
    ctx: SiteContext
    templates: Jinja2Templates

    def now(self) -> datetime:
        return datetime.now(UTC)


def services(request: Request) -> Services:
    value: Services = request.app.state.services
    return value


Svc = Annotated[Services, Depends(services)]


def ip_allowed(svc: Services, request: Request) -> bool:
    """Count a subscribe attempt from this client; False over the hourly limit."""
    return svc.limiter.hit(f"ip:{client_ip(request)}", SUBSCRIBES_PER_IP_PER_HOUR, 3600)
