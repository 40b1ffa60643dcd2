"""The fan-facing landing app: routers (`routers/`) over `flows` (authorizations) and `done` (the done
page), their guards as dependencies (`guards`: rate limit, campaign lookup, service checks).

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
from pathlib import Path

from anyio import to_thread
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

from campaigns.settings import Settings
from campaigns.store import Store, is_store_outage, make_engine, migrate
from collectors.landing import views
from collectors.landing.context import Landing
from collectors.landing.errors import ErrorLayer
from collectors.landing.guards import Answered, send_answer
from collectors.landing.routers import authorization, campaign, forget, unsubscribe
from collectors.landing.security import RequestLimits, content_security_policy

log = logging.getLogger(__name__)
STATIC = Path(__file__).with_name("static")
SPARE_CONNECTIONS = 4  # beyond one per route thread: the event writer and the async routes


def create_app(
    settings: Settings,
    store: Store | None = None,
    *,
    openapi: bool = False,
    limit_prefix: str = "presave-landing",
) -> FastAPI:
    """The landing app over the given store (or the one the settings name, migrated on start).
    `limit_prefix` names its rate-limit keys in Redis (apps sharing one prefix share the budgets)."""
    own_store = store is None
    landing = Landing(settings, store or _own_store(settings), limit_prefix=limit_prefix)

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
    app.state.pages = views.RenderedPages()
    app.add_middleware(ErrorLayer, error_page=_error_page)  # inside RequestLimits: its headers apply
    app.add_middleware(RequestLimits, csp=content_security_policy(settings, landing.connectors.configured))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _add_error_pages(app)
    app.add_api_route("/healthz", healthz, methods=["GET"], response_class=PlainTextResponse)
    # fixed first paths before the campaign's `/{slug}/…`, which would take them
    for router in (forget.router, unsubscribe.router, authorization.router, campaign.router):
        app.include_router(router)
    return app


async def healthz(request: Request) -> str:
    """Liveness, answered on the event loop (never behind the route threads or the store), then the
    event sink's counters and the sealed tokens that could not be opened (`vault_errors`), one
    `name value` a line: a probe reads the status, a person the rest."""
    landing: Landing = request.app.state.landing
    counts = landing.events.counts()
    lines = [f"events_{name} {value}\n" for name, value in counts.items()]
    return "ok\n" + "".join(lines) + f"vault_errors {landing.vault_errors}\n"


def _own_store(settings: Settings) -> Store:
    """The store with a connection pool as large as the thread pool that serves the routes, so a busy
    moment never closes and reopens connections (each new SQLite connection re-runs its PRAGMAs)."""
    url = settings.resolved_database_url
    pool = settings.landing_threads + SPARE_CONNECTIONS
    store = Store(
        make_engine(url, settings.store_timeouts, pool_size=pool, max_overflow=pool, pool_timeout=60),
        settings.store_timeouts,
    )
    migrate(store.engine)
    return store


def _add_error_pages(app: FastAPI) -> None:
    app.add_exception_handler(Answered, send_answer)

    @app.exception_handler(SQLAlchemyError)
    async def store_away(request: Request, exc: SQLAlchemyError) -> Response:
        if not is_store_outage(exc):
            raise exc  # a bug: the error layer logs its type and shows the 500 page
        log.warning("landing: the store is away (%s) for %s", type(exc).__name__, request.url.path)
        return views.problem(
            request,
            503,
            "Busy for a moment",
            "This page could not be loaded just now. Please try again in a few seconds.",
            retry_url=request.url.path if request.method == "GET" and not _is_oauth(request) else None,
            headers={"retry-after": "5"},
        )

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


def _is_oauth(request: Request) -> bool:
    return request.url.path.startswith("/oauth/")


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
