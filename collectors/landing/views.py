"""Rendering: the templates, the problem pages (each says what happened and what to do), cookies."""

from __future__ import annotations

import secrets
import threading
import time
from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from campaigns.rules import SERVICE_NAMES
from collectors.landing.attempts import BROWSER_COOKIE, STATE_LIFETIME
from collectors.landing.context import VISITOR_COOKIE, Landing
from collectors.landing.page import CampaignView
from collectors.landing.security import SESSION_COOKIE, SESSION_LIFETIME_S
from collectors.landing.visit import visitor_id

TEMPLATES = Jinja2Templates(directory=Path(__file__).with_name("templates"))
TEMPLATES.env.globals["service_names"] = SERVICE_NAMES
TEMPLATES.env.auto_reload = False  # templates ship with the code: no stat() of each file per page
VISITOR_COOKIE_DAYS = 90


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    status: int = 200,
    view: CampaignView | None = None,
) -> HTMLResponse:
    accent = view.accent if view else "#1db954"
    accent_text = view.accent_text if view else "#000000"
    return TEMPLATES.TemplateResponse(
        request,
        name,
        {"accent": accent, "accent_text": accent_text, "view": view, **context},
        status_code=status,
        headers={"cache-control": "no-store"},
    )


class RenderedPages:
    """Campaign pages already rendered, by variant, for a second.

    A page differs only by campaign, phase, the attribution its links carry and the in-app notice, and
    rendering is most of what a view costs; the countdown runs in the browser, so a second-old page is
    the same page. A new campaign view (the campaign cache reloads every few seconds) starts afresh.
    """

    def __init__(self, ttl_s: float = 1.0, size: int = 2048) -> None:
        self._ttl_s = ttl_s
        self._size = size
        self._pages: dict[tuple[Any, ...], tuple[float, CampaignView, str]] = {}
        self._lock = threading.Lock()

    def page(self, view: CampaignView, context: dict[str, Any]) -> HTMLResponse:
        key = (view.slug, id(view), *(_hashable(value) for value in context.values()))
        now = time.monotonic()
        hit = self._pages.get(key)
        if hit is not None and hit[0] > now and hit[1] is view:
            html = hit[2]
        else:
            html = TEMPLATES.get_template("campaign.html").render(
                {"accent": view.accent, "accent_text": view.accent_text, "view": view, **context}
            )
            with self._lock:
                if len(self._pages) >= self._size:
                    self._pages.clear()
                self._pages[key] = (now + self._ttl_s, view, html)
        return HTMLResponse(html, headers={"cache-control": "no-store"})


def _hashable(value: Any) -> Any:
    return tuple(sorted(value.items())) if isinstance(value, dict) else value


def problem(
    request: Request,
    status: int,
    heading: str,
    message: str,
    *,
    retry_url: str | None = None,
    view: CampaignView | None = None,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    response = render(
        request,
        "problem.html",
        {"heading": heading, "message": message, "retry_url": retry_url, "title": heading},
        status=status,
        view=view,
    )
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def unknown_campaign(request: Request) -> HTMLResponse:
    return problem(
        request, 404, "Not found", "There is no campaign at this address. Check the link you followed."
    )


def service_unavailable(request: Request, view: CampaignView | None, service: str) -> HTMLResponse:
    name = SERVICE_NAMES.get(service)
    message = (
        f"Pre-saving on {name} is not offered for this release."
        if name
        else "That streaming service is not one this page knows."
    )
    return not_saved(request, view, 404, "Service not available", message)


STATE_MESSAGES = {
    "expired": ("Link expired", "This sign-in took too long and expired. Please start again."),
    "used": ("Link already used", "This sign-in link was already used. Please start again."),
    "invalid": (
        "Link not valid",
        "This sign-in link is not valid. Please start again from the campaign page.",
    ),
    "other_browser": (
        "Open this in the browser you started in",
        "This sign-in was started in another browser (or its cookies were cleared), so nothing was saved "
        "here. Finish in the browser where you pressed the button, or start again from the campaign page.",
    ),
}


def not_saved(
    request: Request, view: CampaignView | None, status: int, heading: str, message: str
) -> HTMLResponse:
    """A problem page for a fan whose pre-save was not made: it offers to start again on the campaign."""
    return problem(request, status, heading, message, retry_url=f"/{view.slug}" if view else None, view=view)


def state_problem(request: Request, reason: str, view: CampaignView | None) -> HTMLResponse:
    heading, message = STATE_MESSAGES[reason]
    return not_saved(request, view, 400, heading, message)


def denied(request: Request, view: CampaignView | None, service: str) -> HTMLResponse:
    message = (
        f"You did not allow {SERVICE_NAMES[service]} access, so nothing was saved. "
        "You can try again whenever you like."
    )
    return not_saved(request, view, 200, "Not saved", message)


def service_failed(request: Request, view: CampaignView | None, service: str) -> HTMLResponse:
    name = SERVICE_NAMES[service]
    message = f"We could not finish with {name}, so nothing was saved. Please try again."
    return not_saved(request, view, 502, f"{name} did not answer", message)


def service_refused(request: Request, view: CampaignView | None, service: str) -> HTMLResponse:
    message = (
        f"{SERVICE_NAMES[service]} did not accept this sign-in, so nothing was saved. Please start again."
    )
    return not_saved(request, view, 400, "Not saved", message)


def rate_limited(request: Request, retry_after: float) -> HTMLResponse:
    return problem(
        request,
        429,
        "Too many tries",
        "Too many sign-ins came from your network in the last minute. Please wait a minute and try again.",
        headers={"retry-after": str(int(retry_after))},
    )


def visitor_of(request: Request) -> tuple[str, bool]:
    """The visitor cookie's id, or a new one (True when new, so the response sets it)."""
    known = visitor_id(request.cookies.get(VISITOR_COOKIE))
    return (known, False) if known else (secrets.token_urlsafe(16), True)


def remember_visitor(response: Response, landing: Landing, visitor: str, new: bool) -> None:
    if not new:
        return
    response.set_cookie(
        VISITOR_COOKIE,
        visitor,
        max_age=60 * 60 * 24 * VISITOR_COOKIE_DAYS,
        httponly=True,
        samesite="lax",
        secure=landing.settings.public_url.startswith("https://"),
    )


def bind_browser(response: Response, landing: Landing, browser: str) -> None:
    """The cookie an authorization's `state` is bound to, kept as long as a state lives."""
    response.set_cookie(
        BROWSER_COOKIE,
        browser,
        max_age=int(STATE_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",  # sent on the service's top-level redirect back to us
        secure=landing.settings.public_url.startswith("https://"),
    )


def set_session(response: Response, landing: Landing, cookie: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=SESSION_LIFETIME_S,
        httponly=True,
        samesite="lax",
        secure=landing.settings.public_url.startswith("https://"),
    )


def clear_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE)
