"""`brief web` (the site and API, served by uvicorn) and `brief inbound` (mail commands)."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from brief.cli.common import state


def web(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Serve the subscribe pages, archive and operator API."""
    import uvicorn

    from brief.taskqueue import CeleryQueue

    # Fail here, with one line, on a bad setting, a database or a broker that does not
    # answer: not with a traceback per worker, or at the first subscription.
    state.engine  # noqa: B018 (opens and migrates the database)
    CeleryQueue(state.settings).ping()
    typer.echo(
        "brief web: the pages and the API only; confirmations and digests are sent by a "
        "Celery worker (brief serve runs one with the web front, or: celery -A tasks worker)"
    )
    uvicorn.run(
        "brief.web.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=False,  # the app applies BRIEF_TRUSTED_PROXIES itself
    )


def inbound(
    host: Annotated[str | None, typer.Option(help="Default BRIEF_INBOUND_HOST.")] = None,
    port: Annotated[int | None, typer.Option(help="Default BRIEF_INBOUND_PORT.")] = None,
) -> None:
    """Receive "subscribe"/"unsubscribe" emails, bounces and complaints (SMTP listener)."""
    from aiosmtpd.controller import Controller

    from brief.inbound import MAX_MESSAGE_BYTES, InboundHandler
    from brief.ratelimit import make_rate_limiter
    from brief.runtime import verp
    from brief.taskqueue import CeleryQueue

    s = state.settings
    bounces = verp(s)
    queue = CeleryQueue(s)
    queue.ping()  # commands received while the broker is down would be lost
    handler = InboundHandler(
        s.mail_from_address,
        state.engine,
        queue,
        make_rate_limiter(s.rate_limit_redis_url),
        bounces,
    )
    controller = Controller(
        handler,
        hostname=host or s.inbound_host,
        port=port or s.inbound_port,
        data_size_limit=MAX_MESSAGE_BYTES,
    )
    controller.start()
    typer.echo(
        f"listening for mail to {s.mail_from_address} and bounces to "
        f"bounces[+...]@{bounces.domain} on {controller.hostname}:{controller.port} "
        "(Ctrl-C to stop)"
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()
