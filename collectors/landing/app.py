"""The fan-facing landing app: the routes, thin, over `flows` (authorizations) and `done` (the done page).

| route | what |
|---|---|
| `GET /{slug}` | the campaign page: pre-save buttons and countdown, then listen buttons after the flip |
| `GET /{slug}/connect/{service}` | starts an authorization (Spotify, Deezer: 302; Apple: the MusicKit page) |
| `POST /{slug}/connect/apple` | the MusicKit page posts the Music User Token (or MusicKit's error) |
| `GET /oauth/{service}/callback` | the OAuth return: grant stored, artist followed, 303 to the done page |
| `GET /{slug}/done`, `POST /{slug}/done` | the fan's choices: extra follows, playlist, email opt-in |
| `GET /{slug}/listen/{service}`, `GET /{slug}/go/{name}` | listen and pre-order links (a click event, then 302) |
| `GET /{slug}/artwork` | the campaign's artwork file |
| `GET /forget`, `POST /forget`, `GET /forget/connect/{service}` | erasing a fan's data |
| `GET /healthz` | liveness |
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from anyio import to_thread
from fastapi import FastAPI, Form, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from campaigns.models import EventKind
from campaigns.settings import Settings
from campaigns.store import Store, make_engine, migrate
from collectors.landing import done as done_page
from collectors.landing import flows, views
from collectors.landing.artwork import artwork_file
from collectors.landing.context import Landing
from collectors.landing.errors import ErrorLayer
from collectors.landing.events import event_row
from collectors.landing.page import (
    ARTWORK_SUFFIXES,
    CampaignView,
    is_released,
    listen_url,
    open_in_browser_url,
    release_label,
)
from collectors.landing.security import RequestLimits, is_loopback, same_origin
from collectors.landing.visit import IN_APP_BROWSERS, platform

log = logging.getLogger(__name__)
STATIC = Path(__file__).with_name("static")
SERVICE_PATTERN = r"^(spotify|apple|deezer)$"
Text = Annotated[str | None, Form(max_length=512)]
SPARE_CONNECTIONS = 4  # beyond one per route thread: the event writer and the async routes


def create_app(settings: Settings, store: Store | None = None, *, openapi: bool = False) -> FastAPI:
    """The landing app over the given store (or the one the settings name, migrated on start)."""
    own_store = store is None
    landing = Landing(settings, store or _own_store(settings))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Few threads: the synchronous routes mostly wait on the services, and more threads than this
        # only fight over the GIL (measured in bench/landing.py).
        to_thread.current_default_thread_limiter().total_tokens = settings.landing_threads
        landing.events.start()
        yield
        await run_in_threadpool(landing.close)
        if own_store:
            landing.store.dispose()

    app = FastAPI(
        title="presave landing",
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json" if openapi else None,
        lifespan=lifespan,
    )
    app.state.landing = landing
    pages = views.RenderedPages()
    app.add_middleware(ErrorLayer, error_page=_error_page)  # inside RequestLimits: its headers apply
    app.add_middleware(RequestLimits, csp=landing.content_security_policy())
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _add_error_pages(app)

    def limited(request: Request) -> Response | None:
        address = landing.client_ip(request)
        if is_loopback(address):  # a local process (the demo, a proxy that forwards no address), not a fan
            return None
        wait = landing.limiter.hit(address)
        return views.rate_limited(request, wait) if wait is not None else None

    def campaign_or_404(request: Request, slug: str) -> CampaignView | Response:
        view = landing.campaigns.get(slug)
        return view if view is not None else views.unknown_campaign(request)

    @app.get("/healthz", response_class=PlainTextResponse)
    def healthz() -> str:
        return "ok"

    @app.get("/forget")
    def forget(request: Request) -> Response:
        return done_page.forget_page(landing, request)

    @app.post("/forget")
    def forget_this(request: Request, csrf: Text = None) -> Response:
        return done_page.erase(landing, request, csrf)

    @app.get("/forget/connect/{service}")
    def forget_connect(request: Request, service: str) -> Response:
        if (refused := limited(request)) is not None:
            return refused
        if service not in ("spotify", "deezer") or not landing.configured(service):
            return views.service_unavailable(request, None, service)
        return flows.forget_connect(landing, service)

    @app.get("/oauth/{service}/callback")
    def callback(
        request: Request,
        service: str,
        state: Annotated[str, Query(max_length=512)] = "",
        code: Annotated[str | None, Query(max_length=2048)] = None,
        error: Annotated[str | None, Query(max_length=200)] = None,
        error_reason: Annotated[str | None, Query(max_length=200)] = None,
    ) -> Response:
        if (refused := limited(request)) is not None:
            return refused
        if service not in ("spotify", "deezer") or not landing.configured(service):
            return views.service_unavailable(request, None, service)
        return flows.oauth_callback(landing, request, service, state, code, error or error_reason)

    @app.get("/{slug}")
    async def campaign(request: Request, slug: str) -> Response:
        view = landing.campaigns.get(slug)
        if view is None:
            return views.unknown_campaign(request)
        visitor, new = views.visitor_of(request)
        visit = landing.visit(request, visitor)
        landing.events.add(event_row(view.id, EventKind.VISIT, visit))
        opened_from = request.query_params.get("ib")
        if opened_from in IN_APP_BROWSERS and not visit["in_app_browser"]:
            landing.events.add(event_row(view.id, EventKind.OPEN_IN_BROWSER, visit, detail=opened_from))
        response = pages.page(view, _campaign_context(landing, request, view, visit))
        views.remember_visitor(response, landing, visitor, new)
        return response

    @app.get("/{slug}/connect/{service}")
    def connect(request: Request, slug: str, service: str) -> Response:
        if (refused := limited(request)) is not None:
            return refused
        view = campaign_or_404(request, slug)
        if not isinstance(view, CampaignView):
            return view
        if service not in view.presave_services:
            return views.service_unavailable(request, view, service)
        return flows.connect(landing, request, view, service)

    @app.post("/{slug}/connect/apple")
    def apple_token(
        request: Request,
        slug: str,
        state: Text = None,
        music_user_token: Annotated[str | None, Form(max_length=4096)] = None,
        error: Text = None,
    ) -> Response:
        if (refused := limited(request)) is not None:
            return refused
        view = campaign_or_404(request, slug)
        if not isinstance(view, CampaignView):
            return view
        if "apple" not in view.presave_services:
            return views.service_unavailable(request, view, "apple")
        if not same_origin(dict(request.headers), landing.public_origin):
            return views.problem(
                request,
                403,
                "Form expired",
                "This form did not come from this page.",
                retry_url=f"/{view.slug}",
                view=view,
            )
        return flows.apple_token(landing, request, view, state or "", music_user_token, error)

    @app.get("/{slug}/done")
    def done(request: Request, slug: str) -> Response:
        view = campaign_or_404(request, slug)
        return done_page.show(landing, request, view) if isinstance(view, CampaignView) else view

    @app.post("/{slug}/done")
    def complete(
        request: Request,
        slug: str,
        csrf: Text = None,
        follow: Annotated[list[str], Form(max_length=10)] = [],  # noqa: B006 - FastAPI copies defaults
        playlist: Annotated[str | None, Form(max_length=80)] = None,
        email_opt_in: Annotated[str | None, Form(max_length=10)] = None,
        email: Annotated[str | None, Form(max_length=254)] = None,
    ) -> Response:
        view = campaign_or_404(request, slug)
        if not isinstance(view, CampaignView):
            return view
        return done_page.complete(
            landing,
            request,
            view,
            csrf=csrf,
            follows=follow,
            playlist=playlist,
            email_opt_in=email_opt_in,
            email=email,
        )

    @app.get("/{slug}/listen/{service}")
    async def listen(request: Request, slug: str, service: str) -> Response:
        view = landing.campaigns.get(slug)
        if view is None:
            return views.unknown_campaign(request)
        if service not in view.spec.services.offered():
            return views.service_unavailable(request, view, service)
        visitor, _ = views.visitor_of(request)
        landing.events.add(
            event_row(
                view.id, EventKind.CLICK, landing.visit(request, visitor), service=service, detail="listen"
            )
        )
        return RedirectResponse(listen_url(view.spec, service), status_code=302)

    @app.get("/{slug}/go/{name}")
    async def preorder(request: Request, slug: str, name: str) -> Response:
        view = landing.campaigns.get(slug)
        if view is None:
            return views.unknown_campaign(request)
        target = view.spec.preorder_links.get(name)
        if target is None:
            return views.problem(
                request, 404, "Not found", "This page has no such link.", retry_url=f"/{slug}", view=view
            )
        visitor, _ = views.visitor_of(request)
        landing.events.add(
            event_row(view.id, EventKind.CLICK, landing.visit(request, visitor), detail=f"preorder:{name}")
        )
        return RedirectResponse(target, status_code=302)

    @app.get("/{slug}/artwork")
    def artwork(request: Request, slug: str) -> Response:
        view = landing.campaigns.get(slug)
        path = _artwork_file(settings, view.spec.artwork if view else None)
        if view is None or path is None:
            return views.problem(request, 404, "Not found", "This campaign has no artwork here.")
        return FileResponse(
            path,
            media_type=ARTWORK_SUFFIXES[path.suffix.lower()],
            headers={"cache-control": "public, max-age=3600"},
        )

    return app


def _own_store(settings: Settings) -> Store:
    """The store with a connection pool as large as the thread pool that serves the routes, so a busy
    moment never closes and reopens connections (each new SQLite connection re-runs its PRAGMAs)."""
    url = settings.resolved_database_url
    pool = settings.landing_threads + SPARE_CONNECTIONS
    store = Store(make_engine(url, pool_size=pool, max_overflow=pool, pool_timeout=60))
    migrate(store.engine)
    return store


def _campaign_context(landing: Landing, request: Request, view: CampaignView, visit: dict) -> dict:
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
        "in_app": in_app,
        "open_in_browser_url": open_in_browser_url(
            landing.settings.public_url, view.slug, visit, in_app, platform(request.headers.get("user-agent"))
        )
        if in_app
        else None,
    }


def _artwork_file(settings: Settings, artwork: str | None) -> Path | None:
    return artwork_file(settings.data_dir, artwork)  # confined to <data dir>/artwork/


def _add_error_pages(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        headings = {404: "Not found", 405: "Not allowed", 413: "Too large"}
        message = {404: "There is nothing at this address.", 405: "This address does not take that method."}
        return views.problem(
            request,
            exc.status_code,
            headings.get(exc.status_code, "Bad request"),
            message.get(exc.status_code, "The request could not be read."),
            headers=dict(exc.headers or {}),
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        return views.problem(request, 400, "Bad request", _describe(exc))


def _error_page(request: Request) -> Response:
    return views.problem(request, 500, "Something went wrong", "Please try again in a moment.")


def _describe(exc: RequestValidationError) -> str:
    first = exc.errors()[0] if exc.errors() else {}
    where = [str(part) for part in first.get("loc", ())]
    place = {"query": "query parameter", "body": "form field", "path": "address part"}.get(
        where[0] if where else "", ""
    )
    name = where[-1] if len(where) > 1 else "request"
    why = str(first.get("msg", "is not valid")).removeprefix("Value error, ")
    return f"The {place} {name!r}: {why}.".replace("  ", " ")
