"""Deezer connect (mounted at `/deezer/connect`): `oauth/auth.php` and `oauth/access_token.php`.

The token answer is a query string (`access_token=…&expires=3600`), JSON with `output=json`;
`expires=0` for an `offline_access` grant. There is no refresh token.
"""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from sandbox.deezer.state import PERMS
from sandbox.gate import CALLER, Caller, Reply, Scope
from sandbox.routing import ServiceErrors, ServiceRouter
from sandbox.spotify.accounts import is_loopback_redirect
from sandbox.spotify.oauth import with_query

if TYPE_CHECKING:
    from sandbox.state import Sandbox

AUTH_PARAMS = ("app_id", "redirect_uri", "perms", "state")


class ConnectAdapter:
    name = "deezer_connect"

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def identify(self, scope: Scope) -> Caller:  # noqa: ARG002 - the ServiceAdapter protocol's signature
        return Caller()

    def too_many(self, retry_after: int) -> Reply:  # noqa: ARG002 - the ServiceAdapter protocol's signature
        return Reply(429, b"too many requests", [(b"content-type", b"text/plain")])

    def server_error(self, status: int) -> Reply:
        return Reply(
            status, b"<html><body>Service unavailable</body></html>", [(b"content-type", b"text/html")]
        )

    def revoke(self, caller: Caller) -> None:  # noqa: ARG002 - the ServiceAdapter protocol's signature
        return None


def _page(message: str, status: int = 400) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><title>Deezer</title><p>{html.escape(message)}</p>", status_code=status
    )


def _consent(params: dict[str, str], perms: frozenset[str]) -> str:
    hidden = "".join(
        f'<input type="hidden" name="{k}" value="{html.escape(params[k])}">'
        for k in AUTH_PARAMS
        if k in params
    )
    items = "".join(f"<li>{html.escape(p)}</li>" for p in sorted(perms))
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Deezer (sandbox) – Connect</title>
<style>body{{font-family:sans-serif;max-width:26rem;margin:3rem auto}}
button{{font-size:1rem;padding:.5rem 1.4rem;margin-right:.5rem;border-radius:2rem;border:0}}
#agree{{background:#a238ff;color:#fff}}</style></head>
<body><h1>Deezer sandbox</h1><p>The application {html.escape(params.get("app_id", ""))} would like to:</p>
<ul>{items}</ul><form method="post" action="auth.php">{hidden}
<button id="agree" type="submit" name="decision" value="agree">Agree</button>
<button id="cancel" type="submit" name="decision" value="cancel">Cancel</button></form></body></html>"""


class Connect:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def _check(self, params: dict[str, str]) -> tuple[str, frozenset[str]] | Response:
        config = self.sandbox.config.deezer
        if params.get("app_id") != config.app_id:
            return _page("Wrong app_id")
        redirect_uri = params.get("redirect_uri", "")
        if not redirect_uri or not (
            redirect_uri in config.redirect_uris or is_loopback_redirect(redirect_uri)
        ):
            return _page("redirect_uri is not on the application's domain")
        perms = frozenset(p for p in params.get("perms", "basic_access").split(",") if p)
        unknown = perms - PERMS
        if unknown:
            return _page(f"Unknown permission(s): {', '.join(sorted(unknown))}")
        return redirect_uri, perms

    def _answer(
        self,
        params: dict[str, str],
        redirect_uri: str,
        perms: frozenset[str],
        fan_id: str | None,
        agree: bool,
        caller: Caller,
        status: int,
    ) -> Response:
        deezer = self.sandbox.deezer
        fan = deezer.fan(fan_id) if fan_id or agree else None
        caller.client_id = params["app_id"]
        caller.user = fan.id if fan else None
        if fan is None or not agree or fan.declines:
            answer = {"error_reason": "user_denied"}
        else:
            answer = {"code": deezer.issue_code(params["app_id"], fan, perms)}
        if params.get("state"):
            answer["state"] = params["state"]
        return RedirectResponse(with_query(redirect_uri, answer), status_code=status)

    async def auth(self, request: Request) -> Response:
        params = dict(request.query_params)
        checked = self._check(params)
        if isinstance(checked, Response):
            return checked
        redirect_uri, perms = checked
        fan_id = params.get("sandbox_fan") or request.cookies.get("sandbox_fan")
        caller: Caller = request.scope[CALLER]
        if fan_id:
            decision = params.get("sandbox_decision") or request.cookies.get("sandbox_decision")
            return self._answer(params, redirect_uri, perms, fan_id, decision != "deny", caller, 302)
        caller.client_id = params.get("app_id")
        return HTMLResponse(_consent(params, perms))

    async def decide(self, request: Request) -> Response:
        form = await request.form()
        params = {k: str(v) for k, v in form.items() if k in AUTH_PARAMS}
        checked = self._check(params)
        if isinstance(checked, Response):
            return checked
        redirect_uri, perms = checked
        agree = form.get("decision") == "agree"
        return self._answer(params, redirect_uri, perms, None, agree, request.scope[CALLER], 303)

    async def access_token(self, request: Request) -> Response:
        params = dict(request.query_params)
        if request.method == "POST":
            params.update({k: str(v) for k, v in (await request.form()).items()})
        as_json = params.get("output") == "json"
        config = self.sandbox.config.deezer
        caller: Caller = request.scope[CALLER]
        caller.client_id = params.get("app_id")
        problem = None
        if params.get("app_id") != config.app_id:
            problem = "wrong app_id"
        elif params.get("secret") != config.secret:
            problem = "wrong secret"
        token = None if problem else self.sandbox.deezer.exchange(config.app_id, params.get("code", ""))
        if token is None:
            problem = problem or "wrong code"
            if as_json:
                body = {"error": {"type": "OAuthException", "message": problem, "code": 300}}
                return Response(json.dumps(body).encode(), media_type="application/json")
            return Response(problem.encode(), media_type="text/html; charset=utf-8")
        caller.user = token.fan_id
        expires = 0 if token.expires_at is None else config.token_lifetime_s
        if as_json:
            body_json = {"access_token": token.token, "expires": expires}
            return Response(json.dumps(body_json).encode(), media_type="application/json")
        return Response(
            f"access_token={token.token}&expires={expires}".encode(), media_type="text/html; charset=utf-8"
        )


class _Never(Exception):
    """Connect renders its own refusals; nothing is raised to the router."""


def build_connect(sandbox: Sandbox) -> ServiceRouter:
    connect = Connect(sandbox)
    router = ServiceRouter(
        ServiceErrors(
            _Never,
            render=lambda exc: _page(str(exc)),
            not_found=lambda: _page("Page not found", 404),
            method_not_allowed=lambda: _page("Method not allowed", 405),
            server_error=lambda: _page("Service unavailable", 500),
        )
    )
    router.add("/oauth/auth.php", connect.auth, ["GET"])
    router.add("/oauth/auth.php", connect.decide, ["POST"])
    router.add("/oauth/access_token.php", connect.access_token, ["GET", "POST"])
    return router
