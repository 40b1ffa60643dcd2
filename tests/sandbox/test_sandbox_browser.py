"""What a person sees: the consent pages and the MusicKit shim, driven in Debian's Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from presave.servers import LoopbackServer
from sandbox.apple.keys import developer_token
from tests.sandbox.helpers import CLIENT_ID, SandboxServer, add_release

pytestmark = pytest.mark.browser

PAGE = """<!doctype html><html><head><script src="{musickit}"></script></head><body>
<button id="connect" disabled>Connect Apple Music</button><pre id="out"></pre>
<script>
document.addEventListener("musickitloaded", async function () {{
  const music = await MusicKit.configure({{developerToken: {token!r}, app: {{name: "presave", build: "1"}}}});
  const button = document.getElementById("connect");
  button.onclick = async function () {{
    try {{ document.getElementById("out").textContent = "token:" + await music.authorize(); }}
    catch (error) {{ document.getElementById("out").textContent = "error:" + error.errorCode; }}
  }};
  button.disabled = false;
}});
</script></body></html>"""


@pytest.fixture
def browser(chromium: object) -> object:
    return chromium


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context()  # type: ignore[attr-defined]
    yield context.new_page()
    context.close()


@pytest.fixture
def landing(sandbox_server: SandboxServer) -> Iterator[str]:
    """A stand-in for the landing app: the MusicKit page, and an OAuth callback that shows its query."""
    token = developer_token(
        sandbox_server.sandbox.config.apple, issued_at=sandbox_server.sandbox.clock.time()
    )

    async def apple_page(_request: Request) -> HTMLResponse:
        return HTMLResponse(PAGE.format(musickit=f"{sandbox_server.url}/apple/musickit.js", token=token))

    async def callback(request: Request) -> HTMLResponse:
        return HTMLResponse(f"<p id='query'>{request.url.query}</p>")

    app = Starlette(routes=[Route("/apple", apple_page), Route("/callback", callback)])
    with LoopbackServer(app) as server:
        yield server.url


def test_musickit_authorize_for_a_named_fan(
    sandbox_server: SandboxServer, landing: str, page: object
) -> None:
    ids = add_release(sandbox_server)
    page.goto(f"{landing}/apple?sandbox_fan=amy-browser")  # type: ignore[attr-defined]
    page.click("#connect:enabled")  # type: ignore[attr-defined]
    page.wait_for_function("document.getElementById('out').textContent !== ''")  # type: ignore[attr-defined]
    out = page.inner_text("#out")  # type: ignore[attr-defined]
    assert out.startswith("token:")
    user_token = out.removeprefix("token:")
    sandbox = sandbox_server.sandbox
    dev_token = developer_token(sandbox.config.apple, issued_at=sandbox.clock.time())
    headers = {"Authorization": f"Bearer {dev_token}", "Music-User-Token": user_token}
    added = sandbox_server.client.post(
        "/apple/v1/me/library", params={"ids[albums]": ids["apple"]["album_id"]}, headers=headers
    )
    assert added.status_code == 202
    fan = sandbox_server.client.get("/sandbox/apple/fans/amy-browser").json()
    assert [e["id"] for e in fan["library"] if e["type"] == "albums"] == [ids["apple"]["album_id"]]


def test_musickit_sign_in_popup_agree(sandbox_server: SandboxServer, landing: str, page: object) -> None:
    page.goto(f"{landing}/apple")  # type: ignore[attr-defined]
    with page.expect_popup() as popup_info:  # type: ignore[attr-defined]
        page.click("#connect:enabled")  # type: ignore[attr-defined]
    popup = popup_info.value
    popup.click("#agree")
    page.wait_for_function("document.getElementById('out').textContent !== ''")  # type: ignore[attr-defined]
    assert page.inner_text("#out").startswith("token:")  # type: ignore[attr-defined]
    assert len(sandbox_server.client.get("/sandbox/apple/fans").json()) == 1


def test_musickit_sign_in_popup_cancel(sandbox_server: SandboxServer, landing: str, page: object) -> None:
    page.goto(f"{landing}/apple")  # type: ignore[attr-defined]
    with page.expect_popup() as popup_info:  # type: ignore[attr-defined]
        page.click("#connect:enabled")  # type: ignore[attr-defined]
    popup_info.value.click("#cancel")
    page.wait_for_function("document.getElementById('out').textContent !== ''")  # type: ignore[attr-defined]
    assert page.inner_text("#out") == "error:AUTHORIZATION_ERROR"  # type: ignore[attr-defined]


def test_musickit_refuses_for_a_declining_fan(
    sandbox_server: SandboxServer, landing: str, page: object
) -> None:
    page.goto(f"{landing}/apple?sandbox_fan=amy-no&sandbox_decision=deny")  # type: ignore[attr-defined]
    page.click("#connect:enabled")  # type: ignore[attr-defined]
    page.wait_for_function("document.getElementById('out').textContent !== ''")  # type: ignore[attr-defined]
    assert page.inner_text("#out") == "error:AUTHORIZATION_ERROR"  # type: ignore[attr-defined]


@pytest.mark.parametrize("button", ["agree", "cancel"])
def test_spotify_consent_page_in_a_browser(
    sandbox_server: SandboxServer, landing: str, page: object, button: str
) -> None:
    query = urlencode(
        {
            "client_id": CLIENT_ID,
            "response_type": "code",
            "redirect_uri": f"{landing}/callback",
            "scope": "user-library-modify user-follow-modify",
            "state": "abc",
        }
    )
    page.goto(f"{sandbox_server.url}/spotify/accounts/authorize?{query}")  # type: ignore[attr-defined]
    assert "user-library-modify" in page.inner_text("body")  # type: ignore[attr-defined]
    page.click(f"#{button}")  # type: ignore[attr-defined]
    page.wait_for_url(f"{landing}/callback*")  # type: ignore[attr-defined]
    shown = page.inner_text("#query")  # type: ignore[attr-defined]
    assert ("code=" in shown) is (button == "agree")
    assert ("error=access_denied" in shown) is (button == "cancel")
    assert "state=abc" in shown


def test_deezer_consent_page_in_a_browser(sandbox_server: SandboxServer, landing: str, page: object) -> None:
    query = urlencode(
        {"app_id": "100001", "redirect_uri": f"{landing}/callback", "perms": "basic_access,manage_library"}
    )
    page.goto(f"{sandbox_server.url}/deezer/connect/oauth/auth.php?{query}")  # type: ignore[attr-defined]
    page.click("#agree")  # type: ignore[attr-defined]
    page.wait_for_url(f"{landing}/callback*")  # type: ignore[attr-defined]
    assert page.inner_text("#query").startswith("code=")  # type: ignore[attr-defined]
