"""Messages that are not the digest: the subscription confirmation. Pure."""

from __future__ import annotations

import css_inline

from brief.templating import make_env
from brief.types import RenderedEmail


def render_confirmation(
    *, brief_name: str, confirm_url: str, expires_hours: int, postal_address: str = ""
) -> RenderedEmail:
    env = make_env()
    context = {
        "brief_name": brief_name,
        "confirm_url": confirm_url,
        "expires_hours": expires_hours,
        "postal_address": postal_address,
    }
    subject = env.get_template("email/confirm/subject.txt").render(context)
    html = env.get_template("email/confirm/body.html").render(context)
    return RenderedEmail(
        subject=" ".join(subject.split()),
        text=env.get_template("email/confirm/body.txt").render(context),
        html=css_inline.CSSInliner(keep_style_tags=True).inline(html),
    )
