"""The routes' FastAPI dependencies: the shared `Landing`, the per-IP rate limit, the campaign lookup,
the service checks and the origin check of the MusicKit form.

A guard that turns a request away raises `Answered` with the page to show; the app's handler sends it.
Guards named in a route decorator's `dependencies` run first, in order, then those of its parameters.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from collectors.landing import views
from collectors.landing.connectors import OAuthConnector
from collectors.landing.context import Landing
from collectors.landing.page import CampaignView
from collectors.landing.ratelimit import RouteClass, limit_key
from collectors.landing.security import same_origin


class Answered(Exception):
    """A guard answered the request itself (a problem page) instead of the route."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


async def send_answer(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Answered)
    return exc.response


async def landing_of(request: Request) -> Landing:
    landing: Landing = request.app.state.landing
    return landing


LandingDep = Annotated[Landing, Depends(landing_of)]


def _limit(route: RouteClass) -> Callable[[Request, Landing], Awaitable[None]]:
    async def rate_limit(request: Request, landing: LandingDep) -> None:
        """The route class's budget a minute per client (an IPv4 address, an IPv6 /64)."""
        key = limit_key(landing.attribution.client_ip(request))
        if landing.limits.shared:  # Redis answers over the network: off the event loop
            wait = await run_in_threadpool(landing.limits.hit, route, key)
        else:
            wait = landing.limits.hit(route, key)
        if wait is not None:
            raise Answered(views.rate_limited(request, wait))

    return rate_limit


RateLimited = Depends(_limit(RouteClass.SERVICE))  # the routes that call a service
DoneLimited = Depends(_limit(RouteClass.DONE))
PageLimited = Depends(_limit(RouteClass.PAGE))


async def campaign_of(request: Request, slug: str, landing: LandingDep) -> CampaignView:
    """The campaign named by the path's slug, else the unknown-campaign page. From memory when it can;
    else read in a thread: a store that does not answer never holds the event loop."""
    known, view = landing.campaigns.cached(slug)
    if not known:
        view = await run_in_threadpool(landing.campaigns.get, slug)
    if view is None:
        raise Answered(views.unknown_campaign(request))
    return view


CampaignDep = Annotated[CampaignView, Depends(campaign_of)]


async def presave_service(request: Request, service: str, view: CampaignDep) -> str:
    """The path's service, when this campaign offers it and it is configured here. A fan whose page was
    drawn before the Spotify app's places were taken is sent back to it, where the reminder now stands:
    never to a service that will not save for them, never to a dead end."""
    if service == "spotify" and view.spotify_full:
        query = f"?{request.url.query}" if request.url.query else ""
        raise Answered(RedirectResponse(f"/{view.slug}{query}#remind", status_code=303))
    if service not in view.presave_services:
        raise Answered(views.service_unavailable(request, view, service))
    return service


PresaveService = Annotated[str, Depends(presave_service)]


async def oauth_connector(request: Request, service: str, landing: LandingDep) -> OAuthConnector:
    """The path's service, when it signs fans in through OAuth and is configured here."""
    connector = landing.connectors.oauth(service)
    if connector is None:
        raise Answered(views.service_unavailable(request, None, service))
    return connector


OAuthDep = Annotated[OAuthConnector, Depends(oauth_connector)]


async def same_origin_form(request: Request, view: CampaignDep, landing: LandingDep) -> CampaignView:
    """The campaign of a form posted from one of our pages (a reminder sign-up, the MusicKit token)."""
    if not same_origin(dict(request.headers), landing.public_origin):
        raise Answered(
            views.problem(
                request,
                403,
                "Form expired",
                "This form did not come from this page.",
                retry_url=f"/{view.slug}",
                view=view,
            )
        )
    return view


async def musickit_form(request: Request, view: CampaignDep, landing: LandingDep) -> CampaignView:
    """The campaign of a MusicKit POST: Apple must be offered, and the form must come from our pages."""
    if "apple" not in view.presave_services:
        raise Answered(views.service_unavailable(request, view, "apple"))
    return await same_origin_form(request, view, landing)


MusicKitCampaign = Annotated[CampaignView, Depends(musickit_form)]
SameOriginCampaign = Annotated[CampaignView, Depends(same_origin_form)]
