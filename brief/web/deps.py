"""What routes depend on: the services built once by create_app, and how a route gets them."""

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
