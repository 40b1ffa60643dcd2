"""Starting and finishing authorizations: a pre-save (Spotify, Deezer: OAuth; Apple: MusicKit), the email
opt-in of a grant, and a fan proving who they are to be forgotten.

Capture first: the state is checked without using it up, the code exchanged (the one service call before
the store), then one transaction uses the state, stores the grant (tokens sealed) and queues what it is owed
now (`/me`, the artist follow, Apple's pre-add). Those calls come after the commit, each through the app's
pacing gate; one that cannot be made now stays owed to the executor, and the fan sees the done page either
way. A store that fails before the commit leaves the state unspent and the fan a "try again" page. Service
calls never run inside a database transaction (SQLite has one writer).
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Connection, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from campaigns.identity import PROVISIONAL, adopt_identity, identify, provisional_id
from campaigns.ledger import (
    DELIVERED_AT_GRANT,
    PROFILE_TARGET,
    GrantRef,
    Owed,
    held_by,
    owe_at_grant,
    record_at_grant,
    release_held,
)
from campaigns.models import ActionKind, EventKind, Grant, GrantStatus
from campaigns.rules import SERVICE_NAMES
from campaigns.vault import Secret, VaultError
from campaigns.verification import UNVERIFIED, UNVERIFIED_REFUSED, end_uncounted
from collectors.landing import views
from collectors.landing.apple import valid_user_token
from collectors.landing.attempts import BROWSER_COOKIE, Attempt, StateError, browser_of, slug_of
from collectors.landing.choices import initial_choices
from collectors.landing.connectors import Authorization, Connector, OAuthConnector
from collectors.landing.consent import EMAIL_SCOPE
from collectors.landing.context import Landing
from collectors.landing.deezer import DeezerConnect
from collectors.landing.events import event_row
from collectors.landing.fans import forget_fan
from collectors.landing.page import CampaignView
from collectors.landing.records import (
    at_grant,
    give_consent,
    record_event,
    replace_tokens,
    save_grant,
)
from collectors.landing.spotify import SpotifyConnect
from services.catalog import service_module
from services.errors import Failure, GrantLost, ServiceError
from services.model import Profile, Tokens, open_tokens
from services.owed import GrantAction

log = logging.getLogger(__name__)
HOLD = timedelta(minutes=2)  # the grant-time calls a callback holds are the executor's after this

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
            connection, view.id, service, authorization.verifier, visit, browser=browser, slug=view.slug
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
            "preadd": bool(service_module(apple.service).grant_actions(view.spec)),
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
            slug=view.slug,
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
    """The service sent the fan back: the code exchanged, the grant stored with the state's use, then
    `/me` and the artist follow (owed actions when they cannot be made now), then the done page. A store
    that does not answer leaves the state unspent: the fan is asked to try again."""
    try:
        return _oauth_callback(landing, request, oauth, state, code, error)
    except SQLAlchemyError as exc:
        log.warning("callback: the store failed (%s); the fan is asked to try again", type(exc).__name__)
        return store_away(request, slug_of(state))


def _oauth_callback(
    landing: Landing, request: Request, oauth: OAuthConnector, state: str, code: str | None, error: str | None
) -> Response:
    service = oauth.service
    try:
        with landing.store.engine.connect() as connection:
            attempt, verifier = landing.attempts.check(
                connection, state, service, browser=request.cookies.get(BROWSER_COOKIE)
            )
    except StateError as exc:
        return views.state_problem(request, exc.reason, None)
    campaign_id, purpose, visit = attempt.campaign_id, attempt.purpose, attempt.visit
    view = landing.campaigns.by_id(campaign_id) if campaign_id is not None else None
    if campaign_id is not None and view is None:
        return views.unknown_campaign(request)
    if error or not code:
        return _refused(landing, request, view, service, attempt, error)
    try:
        tokens = oauth.exchange(code, verifier, visit)
        profile = oauth.profile(tokens) if purpose in ("forget", "email") else None
    except ServiceError as exc:
        if view is not None:
            with landing.writes.core() as connection:
                record_event(
                    connection,
                    event_row(
                        view.id, EventKind.ERROR, visit, service=service, detail=f"{purpose}:{exc.code}"
                    ),
                )
        return failed(request, view, service, exc)
    try:
        if purpose == "forget" and profile is not None:
            with landing.writes.core() as connection:
                landing.attempts.claim(connection, attempt)
            return _forgotten(landing, request, oauth, profile)
        if view is None:  # only a forget attempt has no campaign
            return views.state_problem(request, "invalid", None)
        if purpose == "email" and profile is not None:
            return _email_granted(landing, request, view, attempt, tokens, profile)
        return _capture(landing, view, oauth, attempt, tokens, provisional_id(attempt.nonce), identify=True)
    except StateError as exc:  # another request used the state meanwhile (a replayed callback)
        return views.state_problem(request, exc.reason, view)


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
        with landing.store.engine.connect() as connection:
            attempt, _ = landing.attempts.check(
                connection, state, "apple", browser=request.cookies.get(BROWSER_COOKIE), campaign_id=view.id
            )
        if error or not user_token:
            return _refused(landing, request, view, "apple", attempt, error or "no_token")
        if not valid_user_token(user_token):
            with landing.writes.core() as connection:
                record_event(
                    connection,
                    event_row(
                        view.id,
                        EventKind.ERROR,
                        attempt.visit,
                        service="apple",
                        detail="presave:bad_user_token",
                    ),
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
        check = apple.check(token)  # only a token Apple accepted is a pre-save
        if check.refused:
            return _token_refused(landing, request, view, attempt)
        user_id = f"mut-{landing.vault.pseudonym('apple-user-token', user_token)[:24]}"
        tokens = Tokens(access_token=token, refresh_token=None, expires_at=None, scope="music-user-token")
        if check.country and not attempt.visit.get("country"):
            attempt.visit["country"] = check.country
        return _capture(
            landing, view, apple, attempt, tokens, user_id, identify=False, unverified=not check.accepted
        )
    except StateError as exc:
        return views.state_problem(request, exc.reason, view)
    except SQLAlchemyError as exc:
        log.warning(
            "MusicKit return: the store failed (%s); the fan is asked to try again", type(exc).__name__
        )
        return store_away(request, view.slug)


def _token_refused(landing: Landing, request: Request, view: CampaignView, attempt: Attempt) -> Response:
    """Apple does not know the Music User Token (forged, or no longer valid): nothing is stored."""
    with landing.writes.core() as connection:
        landing.attempts.claim(connection, attempt)
        record_event(
            connection,
            event_row(view.id, EventKind.ERROR, attempt.visit, service="apple", detail=UNVERIFIED_REFUSED),
        )
    return views.problem(
        request,
        400,
        "Not saved",
        "Apple Music did not accept this sign-in, so nothing was saved. Please try again.",
        retry_url=f"/{view.slug}",
        view=view,
    )


def store_away(request: Request, slug: str | None) -> Response:
    """The store did not answer before the grant was stored: nothing is spent, the fan starts again."""
    return views.problem(
        request,
        503,
        "Not saved yet",
        "We could not record your pre-save just now, and nothing was used up. Please try again in a moment.",
        retry_url=f"/{slug}" if slug else None,
        headers={"Retry-After": "5"},
    )


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
    attempt: Attempt,
    error: str | None,
) -> Response:
    code = error_code(error or "no_code")
    kind = EventKind.DENIAL if code in DENIALS else EventKind.ERROR
    purpose = attempt.purpose
    with landing.writes.core() as connection:
        landing.attempts.claim(connection, attempt)
        if view is not None:
            record_event(
                connection,
                event_row(view.id, kind, attempt.visit, service=service, detail=f"{purpose}:{code}"),
            )
    if purpose == "email" and view is not None:
        return RedirectResponse(f"/{view.slug}/done?email=declined", status_code=303)
    if purpose == "forget":
        return views.problem(
            request, 200, "Nothing erased", "You did not sign in, so nothing was erased.", retry_url="/forget"
        )
    if kind == EventKind.DENIAL:
        return views.denied(request, view, service)
    return views.service_refused(request, view, service)  # the authorization came back with an error


def _capture(
    landing: Landing,
    view: CampaignView,
    connector: Connector,
    attempt: Attempt,
    tokens: Tokens,
    user_id: str,
    *,
    identify: bool,
    unverified: bool = False,
) -> Response:
    """Capture first: in one transaction the state is used, the grant stored (tokens sealed; the account
    id provisional until `/me` answers) and what it is owed at once queued in the ledger, held for this
    request; after the commit those calls are tried (`Delivery`), and the fan sees the done page either
    way. An `unverified` grant (Apple could not be asked whether it knows the token) counts nowhere and
    owes nothing now: the executor asks Apple first (`identify`), then does the rest."""
    service = connector.service
    visit = attempt.visit
    now = datetime.now(UTC)
    holder = f"landing:{attempt.nonce[:30]}"
    owed_now = [(ActionKind.IDENTIFY.value, PROFILE_TARGET)] if identify or unverified else []
    owed_now += [(action.kind, action.target) for action in service_module(service).grant_actions(view.spec)]
    owed_later = [(kind, target, now) for kind, target in owed_now] if unverified else []
    owed_now = [] if unverified else owed_now
    with landing.writes.core() as connection:
        landing.attempts.claim(connection, attempt)
        saved = save_grant(
            connection,
            landing.vault,
            view.id,
            service=service,
            user_id=user_id,
            tokens=tokens,
            country=visit.get("country"),
            fan_timezone=visit.get("timezone"),
            choices=initial_choices(view.spec, service),
            status=GrantStatus.UNVERIFIED if unverified else GrantStatus.ACTIVE,
        )
        owed = owe_at_grant(
            connection, saved, owed_now, owed_later, holder=holder, hold_until=now + HOLD, now=now
        )
        record_event(
            connection,
            event_row(
                view.id,
                EventKind.GRANT,
                visit,
                service=service,
                grant_id=saved.id,
                detail=UNVERIFIED if unverified else ("again" if saved.again else None),
            ),
        )
    delivery = Delivery(landing, connector, tokens, saved, holder)
    delivery.run([row for row in owed if row.held])
    return to_done(landing, view, delivery.grant.id, service)


class Delivery:
    """After the commit: the calls the new grant is owed now (`/me` first, then the follow or pre-add),
    each through the app's pacing gate (refused at once while the app is told to wait, never a sleep).
    What was delivered is recorded through the ledger's upsert; the rest stays owed for the executor.
    The store failing here loses nothing: the held actions pass to the executor after `HOLD`."""

    def __init__(
        self, landing: Landing, connector: Connector, tokens: Tokens, saved: GrantRef, holder: str
    ) -> None:
        self.landing = landing
        self.connector = connector
        self.tokens = tokens
        self.grant = saved
        self.holder = holder

    def run(self, held: list[Owed]) -> None:
        if not held:
            return
        try:
            self._run(held)
        except SQLAlchemyError as exc:
            log.warning(
                "grant %d: its grant-time outcomes wait for the executor (the store failed: %s)",
                self.grant.id,
                type(exc).__name__,
            )

    def _run(self, held: list[Owed]) -> None:
        todo = [(row.kind, row.target) for row in held if row.kind != ActionKind.IDENTIFY]
        if any(row.kind == ActionKind.IDENTIFY for row in held):
            known = self._identify(todo)
            if known is None:
                return
            todo = known
        tried: list[tuple[str, str, ServiceError | None]] = []
        for kind, target in todo:
            problem = _attempt(self.connector, self.tokens, GrantAction(kind, target))
            tried.append((kind, target, problem))
            if problem is not None and problem.must_wait:
                break  # the app is told to wait: the rest stays owed, unsent
        self._record(tried)

    def _identify(self, todo: list[tuple[str, str]]) -> list[tuple[str, str]] | None:
        """`/me`: the grant takes the account's id (merging into the account's first grant of this
        campaign); returns what is still held to do, None when `/me` failed (everything stays owed: the
        grant-time calls wait until the account is known, so a second grant never follows twice)."""
        connector = self.connector
        assert isinstance(connector, SpotifyConnect | DeezerConnect)
        problem = None
        try:
            profile = connector.profile(self.tokens)
        except ServiceError as exc:
            problem = exc
        if isinstance(problem, GrantLost) and problem.status == GrantStatus.UNREGISTERED:
            with self.landing.writes.core() as connection:  # the app can never act for this account
                end_uncounted(connection, self.grant.id, GrantStatus.UNREGISTERED, problem.reason)
            self.landing.campaigns.clear()  # the app's places are taken: pages offer the reminder now
            return None
        if problem is not None:
            self._record([(ActionKind.IDENTIFY.value, PROFILE_TARGET, problem)])
            return None
        still: list[tuple[int, int, str, str]] = []

        def recorded(bind: Connection | Session, grant: GrantRef) -> None:
            record_at_grant(bind, grant, ActionKind.IDENTIFY, PROFILE_TARGET, DELIVERED_AT_GRANT)
            still.extend(held_by(bind, self.holder))

        found = identify(
            self.landing.writes.core,
            self.landing.vault,
            self.grant.id,
            profile.user_id,
            profile.country,
            then=recorded,
        )
        if found is None:
            return None
        self.grant = found
        left = {(kind, target) for _, _, kind, target in still}
        return [item for item in todo if item in left]

    def _record(self, tried: list[tuple[str, str, ServiceError | None]]) -> None:
        with self.landing.writes.core() as connection:
            uncertain = []  # to be checked at the service first: a lost answer, or one proving nothing
            for kind, target, problem in tried:
                result = at_grant(kind, target, None if problem is None else problem.code)
                record_at_grant(connection, self.grant, kind, target, result)
                if result.check_first or (problem is not None and problem.kind == Failure.TRANSIENT):
                    uncertain.append((kind, target))
            held = held_by(connection, self.holder)
            release_held(
                connection,
                self.holder,
                uncertain=[row_id for row_id, _, kind, target in held if (kind, target) in uncertain],
            )


def _attempt(connector: Connector, tokens: Tokens, action: GrantAction) -> ServiceError | None:
    """Make one grant-time call: None when it worked, else why not."""
    try:
        service_module(connector.service).grant_call(connector.app, tokens, action)
    except ServiceError as exc:
        return exc
    return None


def to_done(landing: Landing, view: CampaignView, grant_id: int, service: str) -> Response:
    _, cookie = landing.sessions.issue(grant_id, view.id, service)
    response = RedirectResponse(f"/{view.slug}/done", status_code=303)
    views.set_session(response, landing, cookie)
    return response


def _email_granted(
    landing: Landing,
    request: Request,
    view: CampaignView,
    attempt: Attempt,
    tokens: Tokens,
    profile: Profile,
) -> Response:
    visit = attempt.visit
    grant_id = attempt.grant_id
    with landing.writes.session() as session:
        landing.attempts.claim(session, attempt)
        if grant_id is not None:  # a grant stored before `/me` answered takes the account's id now
            found = adopt_identity(session, landing.vault, grant_id, profile.user_id, profile.country)
            grant_id = found.id if found is not None else None
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
        replace_tokens(landing.vault, grant, tokens)
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


def _forgotten(landing: Landing, request: Request, oauth: OAuthConnector, profile: Profile) -> Response:
    service = oauth.service
    unchecked = identify_provisional(landing, oauth)  # the fan's grants stored before `/me` answered
    landing.events.flush()  # the fan's queued events must be in the store to be made anonymous with the rest
    with landing.writes.session() as session:
        erasure = forget_fan(session, service, profile.user_id)
    landing.campaigns.clear()
    return views.render(
        request,
        "forgotten.html",
        {
            "title": "Erased",
            "service_name": SERVICE_NAMES[service],
            "grants": erasure.grants,
            "unchecked": unchecked,
        },
    )


FORGET_CHECKS = 20  # provisional grants one forget sign-in asks the service about, newest first


def identify_provisional(landing: Landing, oauth: OAuthConnector) -> int:
    """Grants of `oauth`'s service stored before `/me` answered (`pending:`) cannot be found by account:
    each is asked `/me` with its own token (through the app's pacing gate, never a wait) and takes its
    account id, as the executor's `identify` would. Returns how many could not be asked now (the
    service told the app to wait or failed, or the token cannot be opened)."""
    with landing.store.session() as session:
        pending = session.execute(
            select(Grant.id, Grant.access_token, Grant.token_expires_at, Grant.scopes)
            .where(Grant.service == oauth.service, Grant.service_user_id.startswith(PROVISIONAL))
            .order_by(Grant.id.desc())
        ).all()
    unchecked = max(0, len(pending) - FORGET_CHECKS)
    for index, (grant_id, sealed, expires_at, scopes) in enumerate(pending[:FORGET_CHECKS]):
        try:
            tokens = open_tokens(landing.vault, sealed, None, expires_at, scopes)
            profile = oauth.profile(tokens)
        except VaultError:
            landing.vault_failed(grant_id, "checking a grant stored before /me for a forget")
            unchecked += 1
            continue
        except ServiceError as exc:
            if exc.must_wait:  # no call while the app is told to wait: the rest stay unchecked too
                unchecked += len(pending[index:FORGET_CHECKS])
                break
            unchecked += 1
            continue
        identify(
            landing.writes.core,
            landing.vault,
            grant_id,
            profile.user_id,
            profile.country,
            then=lambda bind, grant: record_at_grant(
                bind, grant, ActionKind.IDENTIFY, PROFILE_TARGET, DELIVERED_AT_GRANT
            ),
        )
    return unchecked


def _parse_time(value: object) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return datetime.now(UTC)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
