"""Malformed requests at every route of the landing app: never a 5xx.

Hypothesis builds the requests (paths, query strings, headers, cookies, form fields, raw bodies), the app
runs in-process over a real SQLite store and a real sandbox on loopback, so the deep paths (token
exchanges with junk codes, MusicKit tokens that are not tokens) are exercised, not stubbed. The routes are
read from the app's own OpenAPI document, so a new route fails `test_every_route_is_fuzzed` until it is
covered here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from cryptography.fernet import Fernet
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from campaigns.campaign_file import parse_campaign
from campaigns.models import Grant
from campaigns.registry import create_campaign
from campaigns.settings import Settings
from campaigns.store import Store
from collectors.landing.app import create_app
from collectors.landing.attempts import BROWSER_COOKIE
from collectors.landing.context import Landing
from collectors.landing.spotify import pkce_pair
from presave.servers import LoopbackServer
from sandbox.app import create_app as create_sandbox
from sandbox.config import SandboxConfig
from sandbox.env import sandbox_env
from tests.conftest import PSEUDONYM_KEY

SLUG = "midnight-drive"
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
GET_ROUTES = {
    "/healthz": (),
    "/forget": (),
    "/forget/connect/{service}": ("service",),
    "/oauth/{service}/callback": ("service",),
    "/{slug}": ("slug",),
    "/{slug}/connect/{service}": ("slug", "service"),
    "/{slug}/done": ("slug",),
    "/{slug}/listen/{service}": ("slug", "service"),
    "/{slug}/go/{name}": ("slug", "name"),
    "/{slug}/artwork": ("slug",),
    "/unsubscribe/{token}": ("token",),
    "/r/{token}": ("token",),
}
POST_ROUTES = {"/forget", "/{slug}/connect/apple", "/{slug}/done", "/unsubscribe/{token}", "/{slug}/remind"}

printable = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=200)
anything = st.one_of(
    st.text(max_size=200),
    printable,
    st.sampled_from(
        ["", "\x00", "../..", "a" * 3000, "🎵", "<script>", "spotify", "apple", "deezer", SLUG, "itunes"]
    ),
)
cookie_text = st.text(
    st.characters(min_codepoint=33, max_codepoint=126, exclude_characters=';,"\\'), max_size=120
)

BROWSER = "fuzz-browser-binding-0001"


@dataclass
class Env:
    client: TestClient
    app: FastAPI
    landing: Landing
    session_cookie: str
    csrf: str


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp = tmp_path_factory.mktemp("fuzz")
    config = SandboxConfig()
    with LoopbackServer(create_sandbox(config)) as sandbox:
        service_env = {
            k.removeprefix("PRESAVE_").lower(): v for k, v in sandbox_env(sandbox.url, config).items()
        }
        app_settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            data_dir=tmp / "data",
            database_url=f"sqlite:///{tmp / 'presave.db'}",
            secret_key=Fernet.generate_key().decode(),
            pseudonym_key=PSEUDONYM_KEY,
            public_url="http://testserver",
            landing_rate_limit=0,
            country_header="CF-IPCountry",
            **service_env,
        )
        store = Store.connect(app_settings.resolved_database_url)
        with store.session() as session:
            campaign = create_campaign(session, _campaign())
            grant = Grant(
                campaign_id=campaign.id,
                service="spotify",
                service_user_id="fan-fuzz",
                fan_key="k" * 32,
                access_token="sealed",
                choices={},
            )
            session.add(grant)
            session.flush()
            ids = (campaign.id, grant.id)
        app = create_app(app_settings, store, openapi=True)
        landing: Landing = app.state.landing
        with store.session() as session:
            session.get_one(Grant, ids[1]).access_token = landing.vault.seal("not-a-real-token")
        fan_session, cookie = landing.sessions.issue(ids[1], ids[0], "spotify")
        with TestClient(app, follow_redirects=False) as client:
            yield Env(client, app, landing, cookie, landing.sessions.csrf_token(fan_session))
        store.dispose()


def _campaign() -> Any:
    return parse_campaign(
        {
            "slug": SLUG,
            "artist": "Nova Lane",
            "title": "Midnight Drive",
            "upc": "198880045560",
            "release_at": "2030-12-04T00:00",
            "timezone": "Europe/London",
            "services": {
                "spotify": {
                    "artist": "spotify:artist:4Z8W4fKeB5YxbusRsdQVPb",
                    "follow": ["spotify:user:nova"],
                },
                "apple": {"album_id": "1577502911"},
                "deezer": {"artist_id": "27"},
            },
            "preorder_links": {"itunes": "https://itunes.example/a"},
            "playlist_name": "Radar",
        }
    )


def _fill(template: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        template = template.replace("{" + name + "}", quote(value, safe="") or "x")
    return template


def _headers(draw_headers: dict[str, str], cookies: dict[str, str]) -> dict[str, str]:
    headers = {k: v for k, v in draw_headers.items() if v}
    if cookies:
        headers["cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    return headers


def _ok(response: Any, what: str) -> None:
    assert response.status_code < 500, f"{what} answered {response.status_code}"


header_values = st.fixed_dictionaries(
    {},
    optional={
        "user-agent": printable,
        "referer": printable,
        "cf-ipcountry": printable,
        "origin": st.one_of(printable, st.just("http://testserver")),
        "content-type": st.sampled_from(
            [
                "application/x-www-form-urlencoded",
                "multipart/form-data",
                "multipart/form-data; boundary=x",
                "application/json",
                "text/plain",
                "x/y; charset=nope",
            ]
        ),
    },
)
cookie_values = st.fixed_dictionaries(
    {}, optional={"psv": cookie_text, "psv_tz": cookie_text, "psv_fan": cookie_text}
)
query_values = st.dictionaries(
    st.sampled_from(
        [
            "utm_source",
            "utm_medium",
            "utm_campaign",
            "ref",
            "ib",
            "state",
            "code",
            "error",
            "error_reason",
            "email",
            "x",
        ]
    ),
    anything,
    max_size=6,
)


def test_every_route_is_fuzzed(env: Env) -> None:
    schema = env.app.openapi()
    routes = {(path, method.upper()) for path, item in schema["paths"].items() for method in item}
    fuzzed = {(path, "GET") for path in GET_ROUTES} | {(path, "POST") for path in POST_ROUTES}
    assert routes == fuzzed


@FUZZ
@given(
    route=st.sampled_from(sorted(GET_ROUTES)),
    segments=st.fixed_dictionaries(
        {"slug": anything, "service": anything, "name": anything, "token": anything}
    ),
    real_slug=st.booleans(),
    query=query_values,
    headers=header_values,
    cookies=cookie_values,
)
def test_get_routes_never_fail_on_malformed_input(
    env: Env, route: str, segments: dict, real_slug: bool, query: dict, headers: dict, cookies: dict
) -> None:
    if real_slug:
        segments["slug"] = SLUG
    path = _fill(route, {k: v for k, v in segments.items() if "{" + k + "}" in route})
    response = env.client.get(path, params=query, headers=_headers(headers, cookies))
    _ok(response, f"GET {path}")


@FUZZ
@given(
    csrf=st.one_of(anything, st.just("valid")),
    follow=st.lists(st.one_of(anything, st.just("spotify:user:nova")), max_size=12),
    playlist=st.one_of(
        st.none(), anything, st.sampled_from(["none", "new", "id:37i9dQZF1DX0XUsuxWHRQd", "id:"])
    ),
    email_opt_in=st.one_of(st.none(), anything, st.just("yes")),
    email=st.one_of(st.none(), anything, st.just("fan@example.com")),
    with_session=st.booleans(),
    headers=header_values,
)
def test_the_done_form_never_fails_on_malformed_input(
    env: Env,
    csrf: str,
    follow: list,
    playlist: Any,
    email_opt_in: Any,
    email: Any,
    with_session: bool,
    headers: dict,
) -> None:
    data: dict[str, Any] = {"csrf": env.csrf if csrf == "valid" else csrf, "follow": follow}
    for key, value in (("playlist", playlist), ("email_opt_in", email_opt_in), ("email", email)):
        if value is not None:
            data[key] = value
    cookies = {"psv_fan": env.session_cookie} if with_session else {}
    headers = {k: v for k, v in headers.items() if k != "content-type"}
    response = env.client.post(f"/{SLUG}/done", data=data, headers=_headers(headers, cookies))
    _ok(response, "POST done")


@FUZZ
@given(token=anything, body=st.one_of(st.none(), anything, st.just("List-Unsubscribe=One-Click")))
def test_the_unsubscribe_post_never_fails_on_malformed_input(env: Env, token: str, body: Any) -> None:
    path = _fill("/unsubscribe/{token}", {"token": token})
    response = env.client.post(path, content=body.encode() if body is not None else None)
    _ok(response, "POST unsubscribe")


@FUZZ
@given(
    service=st.one_of(st.none(), anything, st.sampled_from(["spotify", "apple", "deezer", "tidal"])),
    email=st.one_of(st.none(), anything, st.just("fan@example.com")),
    consent=st.one_of(st.none(), anything, st.just("yes")),
    turned_away=st.one_of(st.none(), anything, st.just("yes")),
    origin=st.sampled_from([None, "http://testserver", "https://evil.example"]),
)
def test_the_reminder_post_never_fails_on_malformed_input(
    env: Env, service: Any, email: Any, consent: Any, turned_away: Any, origin: Any
) -> None:
    fields = (("service", service), ("email", email), ("consent", consent), ("turned_away", turned_away))
    data = {k: v for k, v in fields if v is not None}
    response = env.client.post(f"/{SLUG}/remind", data=data, headers={"origin": origin} if origin else {})
    _ok(response, "POST remind")


@FUZZ
@given(
    fresh_state=st.booleans(),
    state=anything,
    token=st.one_of(st.none(), anything, st.just("Am" + "x" * 40)),
    error=st.one_of(st.none(), anything),
    origin=st.sampled_from([None, "http://testserver", "https://evil.example"]),
)
def test_the_musickit_post_never_fails_on_malformed_input(
    env: Env, fresh_state: bool, state: str, token: Any, error: Any, origin: Any
) -> None:
    if fresh_state:
        with env.landing.store.session() as session:
            state = env.landing.attempts.start(session, 1, "apple", None, {}, browser=BROWSER)
        env.client.cookies.set(BROWSER_COOKIE, BROWSER)
    data = {
        k: v for k, v in (("state", state), ("music_user_token", token), ("error", error)) if v is not None
    }
    response = env.client.post(
        f"/{SLUG}/connect/apple", data=data, headers={"origin": origin} if origin else {}
    )
    _ok(response, "POST connect/apple")


@FUZZ
@given(
    service=st.sampled_from(["spotify", "deezer"]),
    purpose=st.sampled_from(["presave", "email", "forget"]),
    code=st.one_of(st.none(), anything),
    error=st.one_of(st.none(), anything),
)
def test_callbacks_with_a_valid_state_and_junk_answers_never_fail(
    env: Env, service: str, purpose: str, code: Any, error: Any
) -> None:
    with env.landing.store.session() as session:
        state = env.landing.attempts.start(
            session,
            None if purpose == "forget" else 1,
            service,
            pkce_pair()[0] if service == "spotify" else None,
            {},
            browser=BROWSER,
            purpose=purpose,
            grant_id=1 if purpose == "email" else None,
        )
    env.client.cookies.set(BROWSER_COOKIE, BROWSER)
    query = {k: v for k, v in (("state", state), ("code", code), ("error", error)) if v is not None}
    _ok(env.client.get(f"/oauth/{service}/callback", params=query), f"callback {service} {purpose}")


@FUZZ
@given(
    route=st.sampled_from(["/forget", f"/{SLUG}/connect/apple", f"/{SLUG}/done", "/healthz", f"/{SLUG}"]),
    body=st.binary(max_size=20_000),
    headers=header_values,
)
def test_raw_bodies_of_any_kind_never_fail(env: Env, route: str, body: bytes, headers: dict) -> None:
    response = env.client.post(
        route, content=body, headers=_headers(headers, {"psv_fan": env.session_cookie})
    )
    _ok(response, f"POST {route}")


def test_an_erase_with_a_valid_token_works_after_the_fuzz(env: Env, tmp_path: Path) -> None:
    response = env.client.post(
        "/forget",
        data={"csrf": env.csrf},
        headers={"cookie": f"psv_fan={env.session_cookie}", "origin": "http://testserver"},
    )
    assert response.status_code == 200
    assert "We erased 1 pre-save" in response.text
