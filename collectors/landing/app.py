"""The fan-facing landing app: campaign page, service authorization, OAuth callback, done page."""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode, urlsplit

import httpx
from fastapi import FastAPI, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from campaigns.campaign_file import SLUG_PATTERN
from campaigns.models import Campaign
from campaigns.registry import UnknownCampaign, campaign_spec, get_campaign
from campaigns.settings import Settings
from campaigns.store import Store
from campaigns.vault import TokenVault
from collectors.landing import visit as visits
from collectors.landing.attempts import AttemptBook, StateError
from collectors.landing.records import record_event, record_grant_time_action, save_grant
from collectors.landing.spotify import SpotifyConnect, SpotifyConnectError, pkce_pair, scopes_for

log = logging.getLogger(__name__)
TEMPLATES = Jinja2Templates(directory=Path(__file__).with_name("templates"))
SERVICE_NAMES = {"spotify": "Spotify", "apple": "Apple Music", "deezer": "Deezer"}
VISITOR_COOKIE = "psv"


class Landing:
    """What the routes share: settings, the store, the vault and one HTTP client for the services."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        keys = settings.secret_keys()
        self.vault = TokenVault(keys)
        self.attempts = AttemptBook(hashlib.sha256(b"state:" + keys[0].encode()).hexdigest(), self.vault)
        self.ip_key = hashlib.sha256(b"ip:" + keys[0].encode()).digest()
        self.http = httpx.Client(timeout=httpx.Timeout(10.0), limits=httpx.Limits(max_connections=100))
        self.public_host = urlsplit(settings.public_url).hostname

    def spotify(self) -> SpotifyConnect:
        return SpotifyConnect(self.settings, self.http)

    def configured(self, service: str) -> bool:
        return service == "spotify" and self.settings.spotify_enabled

    def visit(self, request: Request, visitor_id: str | None) -> dict[str, str | None]:
        headers = request.headers
        agent = headers.get("user-agent")
        country_header = self.settings.country_header
        ip = request.client.host if request.client else None
        return visits.Visit(
            utm_source=visits.clean_tag(request.query_params.get("utm_source")),
            utm_medium=visits.clean_tag(request.query_params.get("utm_medium")),
            utm_campaign=visits.clean_tag(request.query_params.get("utm_campaign")),
            referrer_domain=visits.referrer_domain(headers.get("referer"), self.public_host),
            device_class=visits.device_class(agent),
            in_app_browser=visits.in_app_browser(agent),
            country=visits.country_code(headers.get(country_header)) if country_header else None,
            ip_hash=visits.ip_hash(ip, self.ip_key, datetime.now(UTC).date()),
            visitor_id=visitor_id,
        ).as_dict()


def create_app(settings: Settings, store: Store | None = None) -> FastAPI:
    """The landing app over the given store (or the one the settings name, migrated on start)."""
    own_store = store is None
    landing = Landing(settings, store or Store.connect(settings.resolved_database_url))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        landing.http.close()
        if own_store:
            landing.store.dispose()

    app = FastAPI(title="presave landing", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.landing = landing

    @app.get("/healthz", response_class=PlainTextResponse)
    def healthz() -> str:
        return "ok"

    @app.get("/oauth/{service}/callback")
    def callback(
        request: Request,
        service: str,
        state: Annotated[str, Query(max_length=512)] = "",
        code: Annotated[str | None, Query(max_length=2048)] = None,
        error: Annotated[str | None, Query(max_length=200)] = None,
    ) -> Response:
        if service != "spotify" or not landing.configured(service):
            return _problem(request, 404, "Service not available", "This service is not offered here.")
        with landing.store.session() as session:
            try:
                attempt, verifier = landing.attempts.consume(session, state, service)
            except StateError as exc:
                return _problem(request, 400, "Link expired", _STATE_MESSAGES[exc.reason])
            campaign = session.get_one(Campaign, attempt.campaign_id)
            if error or not code or not verifier:
                record_event(session, campaign.id, "denial", attempt.visit, service=service, detail=error)
                return _problem(
                    request,
                    200,
                    "Not saved",
                    f"You did not allow {SERVICE_NAMES[service]} access, so nothing was saved.",
                    retry_url=f"/{campaign.slug}",
                )
            return _complete_spotify(request, session, landing, campaign, attempt.visit, code, verifier)

    @app.get("/{slug}")
    def campaign_page(request: Request, slug: str) -> Response:
        visitor_id = request.cookies.get(VISITOR_COOKIE) or secrets.token_urlsafe(16)
        with landing.store.session() as session:
            campaign = _find(session, slug)
            if campaign is None:
                return _problem(request, 404, "Not found", "There is no campaign at this address.")
            visit = landing.visit(request, visitor_id)
            record_event(session, campaign.id, "visit", visit)
            spec = campaign_spec(campaign)
            offered = [s for s in spec.services.offered() if landing.configured(s)]
            utm = {k: v for k in visits.UTM_FIELDS if (v := visit.get(k))}
            suffix = f"?{urlencode(utm)}" if utm else ""
            response = TEMPLATES.TemplateResponse(
                request,
                "campaign.html",
                {
                    "campaign": spec,
                    "accent": spec.accent_color,
                    "released": datetime.now(UTC) >= campaign.release_at,
                    "release_iso": campaign.release_at.isoformat(),
                    "release_label": spec.release_at.strftime("%d %B %Y, %H:%M") + f" ({spec.timezone})",
                    "services": offered,
                    "service_names": SERVICE_NAMES,
                    "connect_urls": {s: f"/{slug}/connect/{s}{suffix}" for s in offered},
                    "page_url": f"{landing.settings.public_url}/{slug}",
                    "artwork_url": None,
                },
            )
        _remember_visitor(response, visitor_id)
        return response

    @app.get("/{slug}/connect/{service}")
    def connect(request: Request, slug: str, service: str) -> Response:
        visitor_id = request.cookies.get(VISITOR_COOKIE) or secrets.token_urlsafe(16)
        with landing.store.session() as session:
            campaign = _find(session, slug)
            if campaign is None:
                return _problem(request, 404, "Not found", "There is no campaign at this address.")
            spec = campaign_spec(campaign)
            if service not in spec.services.offered() or not landing.configured(service):
                return _problem(request, 404, "Service not available", "This service is not offered here.")
            visit = landing.visit(request, visitor_id)
            verifier, challenge = pkce_pair()
            state = landing.attempts.start(session, campaign, service, verifier, visit)
            record_event(session, campaign.id, "authorize_start", visit, service=service)
            follows = spec.services.spotify.follow if spec.services.spotify else []
            target = landing.spotify().authorize_url(state, challenge, scopes_for(follows))
        response = RedirectResponse(target, status_code=302)
        _remember_visitor(response, visitor_id)
        return response

    @app.get("/{slug}/done")
    def done(request: Request, slug: str) -> Response:
        with landing.store.session() as session:
            campaign = _find(session, slug)
            if campaign is None:
                return _problem(request, 404, "Not found", "There is no campaign at this address.")
            spec = campaign_spec(campaign)
            service = request.query_params.get("service", "spotify")
            return TEMPLATES.TemplateResponse(
                request,
                "done.html",
                {
                    "campaign": spec,
                    "accent": spec.accent_color,
                    "service_name": SERVICE_NAMES.get(service, "streaming"),
                },
            )

    return app


def _complete_spotify(
    request: Request,
    session: Session,
    landing: Landing,
    campaign: Campaign,
    visit: dict[str, object],
    code: str,
    verifier: str,
) -> Response:
    spec = campaign_spec(campaign)
    spotify = landing.spotify()
    try:
        tokens = spotify.exchange(code, verifier)
        profile = spotify.profile(tokens)
    except (SpotifyConnectError, httpx.HTTPError) as exc:
        log.warning("spotify grant failed for campaign %s: %s", campaign.slug, _safe_reason(exc))
        record_event(session, campaign.id, "error", visit, service="spotify", detail=_safe_reason(exc))
        return _problem(
            request, 502, "Spotify did not answer", "Please try again.", retry_url=f"/{campaign.slug}"
        )
    grant = save_grant(
        session,
        landing.vault,
        campaign,
        service="spotify",
        user_id=profile.user_id,
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_at=tokens.expires_at,
        scopes=tokens.scope,
        country=profile.country or _str(visit.get("country")),
    )
    record_event(session, campaign.id, "grant", visit, service="spotify", grant_id=grant.id)
    artist = spec.services.spotify.artist if spec.services.spotify else None
    if artist:
        try:
            spotify.save_to_library(tokens, [artist])
            record_grant_time_action(session, grant, "follow_artist", artist, delivered=True)
        except (SpotifyConnectError, httpx.HTTPError) as exc:
            # The executor retries what is still queued; the fan's pre-save stands either way.
            record_grant_time_action(
                session, grant, "follow_artist", artist, delivered=False, reason=_safe_reason(exc)
            )
    return RedirectResponse(f"/{campaign.slug}/done?service=spotify", status_code=303)


_STATE_MESSAGES = {
    "expired": "This sign-in link expired. Please start again from the campaign page.",
    "used": "This sign-in link was already used. Please start again from the campaign page.",
    "invalid": "This sign-in link is not valid. Please start again from the campaign page.",
}


def _find(session: Session, slug: str) -> Campaign | None:
    if not SLUG_PATTERN.match(slug):
        return None
    try:
        return get_campaign(session, slug)
    except UnknownCampaign:
        return None


def _problem(
    request: Request, status: int, heading: str, message: str, *, retry_url: str | None = None
) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(
        request,
        "problem.html",
        {"heading": heading, "message": message, "retry_url": retry_url, "title": heading},
        status_code=status,
    )


def _remember_visitor(response: Response, visitor_id: str) -> None:
    response.set_cookie(VISITOR_COOKIE, visitor_id, max_age=60 * 60 * 24 * 90, httponly=True, samesite="lax")


def _safe_reason(exc: Exception) -> str:
    """An error's kind for logs and events: never its text, which might quote a token or a URL."""
    if isinstance(exc, SpotifyConnectError):
        return exc.error[:100]
    return type(exc).__name__


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None
