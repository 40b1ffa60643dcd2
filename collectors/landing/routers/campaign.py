"""A campaign's own pages: the pre-save page (a smart link after the flip), its listen and pre-order
links, its artwork, and the done page where the fan completes their choices."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form
from fastapi.responses import FileResponse, RedirectResponse
from starlette.requests import Request
from starlette.responses import Response

from campaigns.models import EventKind
from campaigns.settings import Settings
from collectors.landing import done as done_page
from collectors.landing import flows, remind, views
from collectors.landing.artwork import artwork_file as confined_artwork
from collectors.landing.context import Landing
from collectors.landing.events import event_row
from collectors.landing.guards import CampaignDep, DoneLimited, LandingDep, PageLimited, SameOriginCampaign
from collectors.landing.page import (
    ARTWORK_SUFFIXES,
    CampaignView,
    is_released,
    listen_url,
    open_in_browser_url,
    release_label,
)
from collectors.landing.visit import IN_APP_BROWSERS, platform

router = APIRouter()
Text = Annotated[str | None, Form(max_length=512)]


async def rendered_pages(request: Request) -> views.RenderedPages:
    pages: views.RenderedPages = request.app.state.pages
    return pages


@router.get("/{slug}", dependencies=[PageLimited])
async def campaign(
    request: Request,
    landing: LandingDep,
    view: CampaignDep,
    pages: Annotated[views.RenderedPages, Depends(rendered_pages)],
) -> Response:
    visitor, new = views.visitor_of(request)
    visit = landing.visit(request, visitor)
    landing.events.add(event_row(view.id, EventKind.VISIT, visit))
    opened_from = request.query_params.get("ib")
    if opened_from in IN_APP_BROWSERS and not visit["in_app_browser"]:
        landing.events.add(event_row(view.id, EventKind.OPEN_IN_BROWSER, visit, detail=opened_from))
    response = pages.page(view, campaign_context(landing, request, view, visit))
    views.remember_visitor(response, landing, visitor, new)
    return response


@router.get("/{slug}/done", dependencies=[DoneLimited])
def done(request: Request, landing: LandingDep, view: CampaignDep) -> Response:
    return done_page.show(landing, request, view)


@router.post("/{slug}/done", dependencies=[DoneLimited])
def complete(
    request: Request,
    landing: LandingDep,
    view: CampaignDep,
    csrf: Text = None,
    follow: Annotated[list[str], Form(max_length=10)] = [],  # noqa: B006 - FastAPI copies defaults
    playlist: Annotated[str | None, Form(max_length=80)] = None,
    email_opt_in: Annotated[str | None, Form(max_length=10)] = None,
    email: Annotated[str | None, Form(max_length=254)] = None,
    future_saves: Annotated[str | None, Form(max_length=10)] = None,
) -> Response:
    return done_page.complete(
        landing,
        request,
        view,
        csrf=csrf,
        follows=follow,
        playlist=playlist,
        email_opt_in=email_opt_in,
        email=email,
        future_saves=future_saves,
    )


@router.post("/{slug}/remind", dependencies=[DoneLimited])
def remind_me(
    request: Request,
    landing: LandingDep,
    view: SameOriginCampaign,
    service: Annotated[str | None, Form(max_length=20)] = None,
    email: Annotated[str | None, Form(max_length=254)] = None,
    consent: Annotated[str | None, Form(max_length=10)] = None,
    turned_away: Annotated[str | None, Form(max_length=10)] = None,
) -> Response:
    """A reminder pre-save: the fan's email (with consent) and chosen service, for a service the label
    cannot write to."""
    return remind.remind(landing, request, view, service, email, consent, turned_away=bool(turned_away))


@router.get("/r/{token}", dependencies=[PageLimited])
def reminder_link(request: Request, landing: LandingDep, token: str) -> Response:
    """The release-day reminder's tracked link: counted, then on to the release on the fan's service."""
    return remind.follow_reminder(landing, request, token)


@router.get("/{slug}/listen/{service}", dependencies=[PageLimited])
async def listen(request: Request, landing: LandingDep, view: CampaignDep, service: str) -> Response:
    if service not in view.spec.services.offered():
        return views.service_unavailable(request, view, service)
    visitor, _ = views.visitor_of(request)
    landing.events.add(
        event_row(view.id, EventKind.CLICK, landing.visit(request, visitor), service=service, detail="listen")
    )
    return RedirectResponse(listen_url(view.spec, service, view.resolved.get(service)), status_code=302)


@router.get("/{slug}/go/{name}", dependencies=[PageLimited])
async def preorder(request: Request, landing: LandingDep, view: CampaignDep, name: str) -> Response:
    target = view.spec.preorder_links.get(name)
    if target is None:
        return views.problem(
            request, 404, "Not found", "This page has no such link.", retry_url=f"/{view.slug}", view=view
        )
    visitor, _ = views.visitor_of(request)
    landing.events.add(
        event_row(view.id, EventKind.CLICK, landing.visit(request, visitor), detail=f"preorder:{name}")
    )
    return RedirectResponse(target, status_code=302)


@router.get("/{slug}/artwork", dependencies=[PageLimited])
def artwork(request: Request, landing: LandingDep, slug: str) -> Response:
    view = landing.campaigns.get(slug)
    path = artwork_file(landing.settings, view.spec.artwork if view else None)
    if view is None or path is None:
        return views.problem(request, 404, "Not found", "This campaign has no artwork here.")
    return FileResponse(
        path,
        media_type=ARTWORK_SUFFIXES[path.suffix.lower()],
        headers={"cache-control": "public, max-age=3600"},
    )


def campaign_context(
    landing: Landing, request: Request, view: CampaignView, visit: dict[str, Any]
) -> dict[str, Any]:
    spec = view.spec
    now = datetime.now(UTC)
    zone = visit.get("timezone")
    in_app = visit.get("in_app_browser")
    suffix = flows.query_suffix(visit)
    return {
        "title": view.title,
        "released": is_released(spec, now, zone),
        "release_mode": spec.release_mode,
        "release_utc": spec.release_at_utc.isoformat().replace("+00:00", "Z"),
        "release_local": spec.release_at.replace(tzinfo=None).isoformat(timespec="seconds"),
        "release_label": release_label(spec),
        "connect_urls": {s: f"/{view.slug}/connect/{s}{suffix}" for s in view.presave_services},
        **remind.form_context(view),
        "in_app": in_app,
        "open_in_browser_url": open_in_browser_url(
            landing.settings.public_url, view.slug, visit, in_app, platform(request.headers.get("user-agent"))
        )
        if in_app
        else None,
    }


def artwork_file(settings: Settings, artwork: str | None) -> Path | None:
    return confined_artwork(settings.data_dir, artwork)  # only <data dir>/artwork/
