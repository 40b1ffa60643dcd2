"""Starting and finishing authorizations: a pre-save (Spotify, Deezer: OAuth; Apple: MusicKit), the email
opt-in of a grant, and a fan proving who they are to be forgotten.

Service calls never run inside a database transaction (SQLite has one writer): the state is consumed in
one short transaction, the services are called, and what came back is written in a second one.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from campaigns.ledger import record_at_grant
from campaigns.models import EventKind, Grant
from campaigns.vault import Secret
from collectors.landing import views
from collectors.landing.apple import valid_user_token
from collectors.landing.attempts import BROWSER_COOKIE, StateError, browser_of
from collectors.landing.choices import initial_choices
from collectors.landing.connectors import Authorization, Connector, GrantAction, OAuthConnector
from collectors.landing.consent import EMAIL_SCOPE
from collectors.landing.context import Landing
from collectors.landing.events import event_row
from collectors.landing.fans import forget_fan
from collectors.landing.page import SERVICE_NAMES, CampaignView
from collectors.landing.records import give_consent, record_event, replace_tokens, save_grant
from services.errors import ServiceError
from services.model import Profile, Tokens

DENIALS = {"access_denied", "user_denied", "AUTHORIZATION_ERROR"}
_CODE = re.compile(r"[^A-Za-z0-9_.:-]")


def error_code(value: str | None) -> str:
    """A service's error word as we store it: safe characters only, bounded."""
    return _CODE.sub("", value or "")[:60] or "unknown"


def query_suffix(visit: dict[str, Any]) -> str:
    """What a connect link carries from the visit, so later events keep the visit's attribution."""
    keep = {k: visit[k] for k in ("utm_source", "utm_medium", "utm_campaign") if visit.get(k)}
    if visit.get("referrer_domain"):
        keep["ref"] = visit["referrer_domain"]
    return f"?{urlencode(keep)}" if keep else ""


# starting ------------------------------------------------------------------------------------------------
def connect(landing: Landing, request: Request, view: CampaignView, service: str) -> Response:
    """The fan pressed a pre-save button: record the click, start the authorization (the service's consent
    page, or Apple's MusicKit page)."""
    visitor, new = views.visitor_of(request)
    visit = landing.visit(request, visitor, referrer_from_query=True)
    oauth = landing.connectors.oauth(service)
    # MusicKit (Apple) needs no verifier and remembers nothing beyond the visit
    authorization = oauth.start("presave", view) if oauth else Authorization(None, "", ())
    visit = {**visit, **authorization.remembered}
    landing.events.add(event_row(view.id, EventKind.CLICK, visit, service=service))
    browser, _ = browser_of(request.cookies.get(BROWSER_COOKIE))
    with landing.writes.core() as connection:
        state = landing.attempts.start(
            connection, view.id, service, authorization.verifier, visit, browser=browser
        )
    landing.events.add(event_row(view.id, EventKind.AUTHORIZE_START, visit, service=service))
    response = (
        RedirectResponse(oauth.authorize_url(state, authorization), status_code=302)
        if oauth
        else _musickit_page(landing, request, view, state)
    )
    views.remember_visitor(response, landing, visitor, new)
    views.bind_browser(response, landing, browser)
    return response


def _musickit_page(landing: Landing, request: Request, view: CampaignView, state: str) -> Response:
    apple = landing.connectors.apple
    if apple is None:
        return views.service_unavailable(request, view, "apple")
    return views.render(
        request,
        "apple.html",
        {
            "title": f"Pre-save on Apple Music — {view.spec.title}",
            "state": state,
            "developer_token": apple.developer_token(),
            "musickit_js_url": apple.musickit_js_url,
            "preadd": bool(apple.grant_actions(view.spec)),
        },
        view=view,
    )


def start_email(
    landing: Landing, grant: Grant, view: CampaignView, consent: dict[str, str], browser: str
) -> str | None:
    """A second, short authorization of the same account that adds only the email scope; None when the
    grant's service has no sign-in to ask it through."""
    oauth = landing.connectors.oauth(grant.service)
    if oauth is None:
        return None
    authorization = oauth.start("email", view)
    visit = {
        "consent_text": consent["text"],
        "consent_version": consent["version"],
        "consent_at": consent["at"],
        **authorization.remembered,
    }
    with landing.writes.core() as connection:
        state = landing.attempts.start(
            connection,
            view.id,
            grant.service,
            authorization.verifier,
            visit,
            browser=browser,
            purpose="email",
            grant_id=grant.id,
        )
    return oauth.authorize_url(state, authorization)


def forget_connect(landing: Landing, request: Request, oauth: OAuthConnector) -> Response:
    """The fan signs in only to prove which account is theirs: no scopes beyond the public profile."""
    authorization = oauth.start("forget", None)
    browser, _ = browser_of(request.cookies.get(BROWSER_COOKIE))
    with landing.writes.core() as connection:
        state = landing.attempts.start(
            connection,
            None,
            oauth.service,
            authorization.verifier,
            dict(authorization.remembered),
            browser=browser,
            purpose="forget",
        )
    response = RedirectResponse(oauth.authorize_url(state, authorization), status_code=302)
    views.bind_browser(response, landing, browser)
    return response


# finishing -----------------------------------------------------------------------------------------------
def oauth_callback(
    landing: Landing, request: Request, oauth: OAuthConnector, state: str, code: str | None, error: str | None
) -> Response:
    """The service sent the fan back: the grant is stored, the artist followed, then the done page."""
    service = oauth.service
    try:
        with landing.writes.core() as connection:
            attempt, verifier = landing.attempts.consume(
                connection, state, service, browser=request.cookies.get(BROWSER_COOKIE)
            )
    except StateError as exc:
        return views.state_problem(request, exc.reason, None)
    campaign_id, purpose, grant_id, visit = (
        attempt.campaign_id,
        attempt.purpose,
        attempt.grant_id,
        attempt.visit,
    )
    view = landing.campaigns.by_id(campaign_id) if campaign_id is not None else None
    if campaign_id is not None and view is None:
        return views.unknown_campaign(request)
    if error or not code:
        return _refused(landing, request, view, service, purpose, visit, error)
    try:
        tokens, profile = oauth.sign_in(code, verifier, visit)
    except ServiceError as exc:
        if view is not None:
            with landing.writes.core() as connection:
                record_event(
                    connection,
                    view.id,
                    EventKind.ERROR,
                    visit,
                    service=service,
                    detail=f"{purpose}:{exc.code}",
                )
        return failed(request, view, service, exc)
    if purpose == "forget":
        return _forgotten(landing, request, service, profile)
    if view is None:  # only a forget attempt has no campaign
        return views.state_problem(request, "invalid", None)
    if purpose == "email":
        return _email_granted(landing, request, view, grant_id, tokens, profile, visit)
    return _presaved(landing, request, view, oauth, tokens, profile, visit)


def apple_token(
    landing: Landing,
    request: Request,
    view: CampaignView,
    state: str,
    user_token: str | None,
    error: str | None,
) -> Response:
    """The MusicKit page posted back the Music User Token (or MusicKit's error)."""
    apple = landing.connectors.apple
    if apple is None:
        return views.service_unavailable(request, view, "apple")
    try:
        with landing.writes.core() as connection:
            attempt, _ = landing.attempts.consume(
                connection, state, "apple", browser=request.cookies.get(BROWSER_COOKIE), campaign_id=view.id
            )
        visit = attempt.visit
    except StateError as exc:
        return views.state_problem(request, exc.reason, view)
    if error or not user_token:
        return _refused(landing, request, view, "apple", "presave", visit, error or "no_token")
    if not valid_user_token(user_token):
        with landing.writes.core() as connection:
            record_event(
                connection, view.id, EventKind.ERROR, visit, service="apple", detail="presave:bad_user_token"
            )
        return views.problem(
            request,
            400,
            "Not saved",
            "Apple Music sent something we could not use. Please try again.",
            retry_url=f"/{view.slug}",
            view=view,
        )
    token = Secret(user_token)
    try:
        country = apple.storefront(token)
    except ServiceError as exc:
        with landing.writes.core() as connection:
            record_event(
                connection, view.id, EventKind.ERROR, visit, service="apple", detail=f"presave:{exc.code}"
            )
        return failed(request, view, "apple", exc)
    profile = Profile(
        user_id=f"mut-{landing.vault.pseudonym('apple-user-token', user_token)[:24]}", country=country
    )
    tokens = Tokens(access_token=token, refresh_token=None, expires_at=None, scope="music-user-token")
    return _presaved(landing, request, view, apple, tokens, profile, visit)


def failed(request: Request, view: CampaignView | None, service: str, exc: ServiceError) -> Response:
    """A refusal of what the fan brought is their request's fault (400); anything else is the service's (502)."""
    if exc.refused:
        return views.service_refused(request, view, service)
    return views.service_failed(request, view, service)


def _refused(
    landing: Landing,
    request: Request,
    view: CampaignView | None,
    service: str,
    purpose: str,
    visit: dict[str, Any],
    error: str | None,
) -> Response:
    code = error_code(error or "no_code")
    kind = EventKind.DENIAL if code in DENIALS else EventKind.ERROR
    if view is not None:
        with landing.writes.core() as connection:
            record_event(connection, view.id, kind, visit, service=service, detail=f"{purpose}:{code}")
    if purpose == "email" and view is not None:
        return RedirectResponse(f"/{view.slug}/done?email=declined", status_code=303)
    if purpose == "forget":
        return views.problem(
            request, 200, "Nothing erased", "You did not sign in, so nothing was erased.", retry_url="/forget"
        )
    if kind == EventKind.DENIAL:
        return views.denied(request, view, service)
    return views.service_refused(request, view, service)  # the authorization came back with an error


def _presaved(
    landing: Landing,
    request: Request,
    view: CampaignView,
    connector: Connector,
    tokens: Tokens,
    profile: Profile,
    visit: dict[str, Any],
) -> Response:
    """Capture first: the grant-time calls are made, then the grant and what became of them are written
    together (a call that failed is queued in the ledger for the executor)."""
    service = connector.service
    visit = {**visit, "country": visit.get("country") or profile.country}
    done_now = [
        (action, *_attempt(connector, tokens, action)) for action in connector.grant_actions(view.spec)
    ]
    with landing.writes.core() as connection:
        saved = save_grant(
            connection,
            landing.vault,
            view.id,
            service=service,
            user_id=profile.user_id,
            tokens=tokens,
            country=visit["country"],
            fan_timezone=visit.get("timezone"),
            choices=initial_choices(view.spec, service),
        )
        for action, delivered, reason in done_now:
            record_at_grant(connection, saved, action.kind, action.target, delivered=delivered, reason=reason)
        record_event(
            connection,
            view.id,
            EventKind.GRANT,
            visit,
            service=service,
            grant_id=saved.id,
            detail=None if saved.new else "again",
        )
    return to_done(landing, view, saved.id, service)


def _attempt(connector: Connector, tokens: Tokens, action: GrantAction) -> tuple[bool, str | None]:
    """Run a grant-time call: (True, None) when it worked, else (False, the reason) for the ledger."""
    try:
        connector.perform(tokens, action)
    except ServiceError as exc:
        return False, exc.code
    return True, None


def to_done(landing: Landing, view: CampaignView, grant_id: int, service: str) -> Response:
    _, cookie = landing.sessions.issue(grant_id, view.id, service)
    response = RedirectResponse(f"/{view.slug}/done", status_code=303)
    views.set_session(response, landing, cookie)
    return response


def _email_granted(
    landing: Landing,
    request: Request,
    view: CampaignView,
    grant_id: int | None,
    tokens: Tokens,
    profile: Profile,
    visit: dict[str, Any],
) -> Response:
    with landing.writes.session() as session:
        grant = session.get(Grant, grant_id) if grant_id is not None else None
        if grant is None:
            return views.problem(
                request,
                410,
                "Pre-save erased",
                "This pre-save no longer exists.",
                retry_url=f"/{view.slug}",
                view=view,
            )
        if grant.service_user_id != profile.user_id:
            return views.problem(
                request,
                400,
                "A different account",
                f"You signed in to {SERVICE_NAMES[grant.service]} as a different account, so nothing changed.",
                retry_url=f"/{view.slug}/done",
                view=view,
            )
        replace_tokens(session, landing.vault, grant, tokens)
        if profile.email is None:
            return RedirectResponse(f"/{view.slug}/done?email=missing", status_code=303)
        grant.email = landing.vault.seal(profile.email)
        given_at = _parse_time(visit.get("consent_at"))
        give_consent(
            session,
            grant,
            scope=EMAIL_SCOPE,
            text=str(visit.get("consent_text", "")),
            version=str(visit.get("consent_version", "")),
            at=given_at,
        )
        grant.choices = {**(grant.choices or {}), "email_opt_in": True}
    return RedirectResponse(f"/{view.slug}/done?email=shared", status_code=303)


def _forgotten(landing: Landing, request: Request, service: str, profile: Profile) -> Response:
    landing.events.flush()  # the fan's queued events must be in the store to be made anonymous with the rest
    with landing.writes.session() as session:
        erasure = forget_fan(session, service, profile.user_id)
    landing.campaigns.clear()
    return views.render(
        request,
        "forgotten.html",
        {"title": "Erased", "service_name": SERVICE_NAMES[service], "grants": erasure.grants},
    )


def _parse_time(value: object) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return datetime.now(UTC)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
