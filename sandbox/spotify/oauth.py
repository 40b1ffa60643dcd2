"""Spotify's accounts service (mounted at `/spotify/accounts`): `GET /authorize` and `POST /api/token`.

The simulated fan is named by the `sandbox_fan` query parameter or cookie; `sandbox_decision=deny`
(or a fan registered with `declines: true`) makes them refuse. Without one, a consent page with
"Agree" and "Cancel" lets a real browser go through, as a person would.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from sandbox.config import SpotifyApp
from sandbox.gate import CALLER, Caller, Reply, Scope
from sandbox.routing import ServiceErrors, ServiceRouter
from sandbox.spotify.accounts import AccessToken, OAuthError, RefreshToken, parse_scope

if TYPE_CHECKING:
    from sandbox.spotify.accounts import SpotifyAccounts
    from sandbox.state import Sandbox

CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43,128}$")
AUTHORIZE_PARAMS = (
    "client_id",
    "response_type",
    "redirect_uri",
    "scope",
    "state",
    "show_dialog",
    "code_challenge_method",
    "code_challenge",
)


class AccountsAdapter:
    """The accounts service is not rate limited here; its calls are logged (and faulted if configured)."""

    name = "spotify_accounts"

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def identify(self, scope: Scope) -> Caller:  # noqa: ARG002 - the ServiceAdapter protocol's signature
        return Caller()

    def too_many(self, retry_after: int) -> Reply:
        return oauth_reply(429, "rate_limited", "Too many requests", retry_after)

    def server_error(self, status: int) -> Reply:
        return oauth_reply(status, "server_error", "Something went wrong")

    def revoke(self, caller: Caller) -> None:  # noqa: ARG002 - the ServiceAdapter protocol's signature
        return None


def oauth_reply(status: int, error: str, description: str, retry_after: int | None = None) -> Reply:
    headers = [(b"content-type", b"application/json")]
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    return Reply(status, json.dumps({"error": error, "error_description": description}).encode(), headers)


def oauth_error(exc: OAuthError) -> Response:
    return Response(
        json.dumps({"error": exc.error, "error_description": exc.description}).encode(),
        status_code=400,
        media_type="application/json",
    )


def error_page(message: str, status: int = 400) -> HTMLResponse:
    body = (
        f"<!doctype html><title>Error</title><h1>Oops! Something went wrong</h1><p>{html.escape(message)}</p>"
    )
    return HTMLResponse(body, status_code=status)


def with_query(uri: str, params: dict[str, str]) -> str:
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


class Accounts:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    @property
    def accounts(self) -> SpotifyAccounts:
        return self.sandbox.spotify

    def _validate(
        self, params: dict[str, str]
    ) -> tuple[SpotifyApp, str, frozenset[str], str | None] | Response:
        """The app, redirect URI, scopes and PKCE challenge of an authorize request, or the error answer."""
        app = self.accounts.app(params.get("client_id"))
        if app is None:
            return error_page("INVALID_CLIENT: Invalid client")
        redirect_uri = params.get("redirect_uri", "")
        if not redirect_uri or not self.accounts.redirect_allowed(app, redirect_uri):
            return error_page("INVALID_CLIENT: Invalid redirect URI")
        state = params.get("state")

        def refuse(error: str, description: str | None = None) -> Response:
            answer = {"error": error}
            if description:
                answer["error_description"] = description
            if state is not None:
                answer["state"] = state
            return RedirectResponse(with_query(redirect_uri, answer), status_code=302)

        if params.get("response_type") != "code":
            return refuse("unsupported_response_type")
        scopes = parse_scope(params.get("scope"))
        if scopes is None:
            return refuse("invalid_scope")
        challenge = params.get("code_challenge")
        problem = _pkce_problem(params.get("code_challenge_method"), challenge)
        if problem is not None:
            return refuse("invalid_request", problem)
        return app, redirect_uri, scopes, challenge

    def _answer(
        self,
        params: dict[str, str],
        app: SpotifyApp,
        redirect_uri: str,
        scopes: frozenset[str],
        challenge: str | None,
        fan_id: str | None,
        agree: bool,
        caller: Caller,
        status: int,
    ) -> Response:
        state = params.get("state")
        fan = self.accounts.fan(fan_id) if fan_id else self.accounts.new_fan() if agree else None
        caller.client_id = app.client_id
        caller.user = fan.id if fan else None
        if fan is None or not agree or fan.declines:
            answer = {"error": "access_denied"}
        else:
            answer = {"code": self.accounts.issue_code(app, fan, redirect_uri, scopes, challenge)}
        if state is not None:
            answer["state"] = state
        return RedirectResponse(with_query(redirect_uri, answer), status_code=status)

    async def authorize(self, request: Request) -> Response:
        params = dict(request.query_params)
        checked = self._validate(params)
        if isinstance(checked, Response):
            return checked
        app, redirect_uri, scopes, challenge = checked
        fan_id = params.get("sandbox_fan") or request.cookies.get("sandbox_fan")
        caller: Caller = request.scope[CALLER]
        if fan_id:
            decision = params.get("sandbox_decision") or request.cookies.get("sandbox_decision")
            return self._answer(
                params, app, redirect_uri, scopes, challenge, fan_id, decision != "deny", caller, 302
            )
        caller.client_id = app.client_id
        return HTMLResponse(consent_page(params, scopes))

    async def decide(self, request: Request) -> Response:
        form = await request.form()
        params = {k: str(v) for k, v in form.items() if k in AUTHORIZE_PARAMS}
        checked = self._validate(params)
        if isinstance(checked, Response):
            return checked
        app, redirect_uri, scopes, challenge = checked
        agree = form.get("decision") == "agree"
        fan_id = str(form.get("sandbox_fan") or "") or None
        return self._answer(
            params, app, redirect_uri, scopes, challenge, fan_id, agree, request.scope[CALLER], 303
        )

    async def token(self, request: Request) -> Response:
        caller: Caller = request.scope[CALLER]
        form = {k: str(v) for k, v in (await request.form()).items()}
        try:
            client_id, secret = _client_credentials(request, form)
            caller.client_id = client_id
            refresh: RefreshToken | None
            grant_type = form.get("grant_type")
            if not grant_type:
                raise OAuthError("unsupported_grant_type", "grant_type parameter is missing")
            if grant_type == "authorization_code":
                app = self._client(client_id, secret, public_allowed=form.get("code_verifier") is not None)
                access, refresh = self.accounts.exchange_code(
                    app, form.get("code"), form.get("redirect_uri"), form.get("code_verifier")
                )
            elif grant_type == "refresh_token":
                app = self._client(client_id, secret, public_allowed=True)
                record = self.accounts.refresh_tokens.get(form.get("refresh_token", ""))
                if secret is None and record is not None and not record.grant.pkce:
                    raise OAuthError("invalid_client", "Invalid client secret")
                access, refresh = self.accounts.refresh(app, form.get("refresh_token"))
            elif grant_type == "client_credentials":
                app = self._client(client_id, secret, public_allowed=False)
                access, refresh = self.accounts.client_credentials(app), None
            else:
                raise OAuthError(
                    "unsupported_grant_type",
                    "grant_type must be client_credentials, authorization_code or refresh_token",
                )
        except OAuthError as exc:
            return oauth_error(exc)
        if access.grant is not None:
            caller.user = access.grant.fan_id
        return Response(
            json.dumps(token_answer(access, refresh, self.accounts.config.access_token_lifetime_s)).encode(),
            media_type="application/json",
            headers={"cache-control": "no-store"},
        )

    def _client(self, client_id: str | None, secret: str | None, *, public_allowed: bool) -> SpotifyApp:
        if secret is None and not public_allowed:
            raise OAuthError("invalid_client", "Invalid client")
        if client_id is None:
            raise OAuthError("invalid_client", "Invalid client")
        return self.accounts.authenticate_client(client_id, secret)


def _client_credentials(request: Request, form: dict[str, str]) -> tuple[str | None, str | None]:
    header = request.headers.get("authorization")
    if header:
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            raise OAuthError("invalid_client", "Invalid client")
        try:
            client_id, sep, secret = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise OAuthError("invalid_client", "Invalid client") from None
        if not sep:
            raise OAuthError("invalid_client", "Invalid client")
        return client_id, secret
    return form.get("client_id"), form.get("client_secret")


def token_answer(access: AccessToken, refresh: RefreshToken | None, lifetime_s: int) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "access_token": access.token,
        "token_type": "Bearer",
        "expires_in": lifetime_s,
    }
    if refresh is not None:
        answer["refresh_token"] = refresh.token
    answer["scope"] = " ".join(sorted(access.scopes))
    return answer


def consent_page(params: dict[str, str], scopes: frozenset[str]) -> str:
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(params[k])}">'
        for k in AUTHORIZE_PARAMS
        if k in params
    )
    items = "".join(f"<li>{html.escape(s)}</li>" for s in sorted(scopes)) or "<li>Your public profile</li>"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Spotify (sandbox) – Authorize</title>
<style>body{{font-family:sans-serif;max-width:28rem;margin:3rem auto;background:#121212;color:#fff}}
button{{font-size:1rem;padding:.6rem 1.6rem;border-radius:2rem;border:0;margin-right:.5rem}}
#agree{{background:#1ed760}}</style></head>
<body><h1>Spotify sandbox</h1>
<p>The app <strong>{html.escape(params.get("client_id", ""))}</strong> would like to:</p>
<ul>{items}</ul>
<form method="post" action="authorize">{hidden}
<button id="agree" type="submit" name="decision" value="agree">Agree</button>
<button id="cancel" type="submit" name="decision" value="cancel">Cancel</button>
</form></body></html>"""


def build_accounts(sandbox: Sandbox) -> ServiceRouter:
    accounts = Accounts(sandbox)
    router = ServiceRouter(
        ServiceErrors(
            OAuthError,
            render=oauth_error,
            not_found=lambda: error_page("Not found", status=404),
            method_not_allowed=lambda: error_page("Method not allowed", status=405),
            server_error=lambda: error_page("Something went wrong", status=500),
        )
    )
    router.add("/authorize", accounts.authorize, ["GET"])
    router.add("/authorize", accounts.decide, ["POST"])
    router.add("/api/token", accounts.token, ["POST"])
    return router


def _pkce_problem(method: str | None, challenge: str | None) -> str | None:
    """What is wrong with an authorize request's PKCE parameters (None: no PKCE, or a valid one)."""
    if method is None and challenge is None:
        return None
    if method != "S256":
        return "code_challenge_method must be S256"
    if challenge is None or not CHALLENGE.match(challenge):
        return "code_challenge must be 43 to 128 base64url characters"
    return None
