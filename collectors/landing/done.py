"""The done page: what was saved, the extra follows (ticked; the fan may untick), the playlist choice,
the email opt-in; completing it; erasing the pre-save.

Everything here acts on the grant named by the browser's signed fan session, and every POST needs the
CSRF token derived from that session and our own origin.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from campaigns.future_saves import future_consent_text
from campaigns.identity import surviving_grant
from campaigns.ledger import GrantRef, record_at_grant
from campaigns.models import ActionKind, EventKind, Grant, GrantStatus, Outcome, OwedAction
from campaigns.rules import SERVICE_NAMES
from campaigns.vault import Secret, VaultError
from collectors.landing import future, remind, views
from collectors.landing.attempts import BROWSER_COOKIE, browser_of
from collectors.landing.choices import (
    DoneChoices,
    DoneOffer,
    FormProblem,
    completed_choices,
    extra_follows,
    read_done_form,
)
from collectors.landing.consent import EMAIL_SCOPE, email_consent_text, text_version
from collectors.landing.context import Landing
from collectors.landing.events import event_row
from collectors.landing.fans import erase_grants
from collectors.landing.flows import start_email
from collectors.landing.page import CampaignView
from collectors.landing.records import (
    UNCONFIRMED_FOLLOW,
    at_grant,
    attribution_of,
    give_consent,
    has_live_consent,
    ledger_of,
    record_event,
    withdraw_consent,
)
from collectors.landing.security import SESSION_COOKIE, DonePageSession, same_origin
from services.errors import ServiceError
from services.model import FanPlaylist, Tokens, open_tokens

EMAIL_NOTICES = {
    "shared": "Thanks: you will get news by email.",
    "missing": "The service did not share an email address, so none was kept.",
    "declined": "You did not share your email address; your pre-save stands.",
}


@dataclass(frozen=True)
class FollowBox:
    uri: str
    label: str
    checked: bool


def offer_for(view: CampaignView, service: str) -> DoneOffer:
    return DoneOffer(
        service=service,
        follows=extra_follows(view.spec, service),
        playlist_choice=view.offers_playlist_choice(service),
        new_playlist_name=view.playlist_name(),
        email_field=service == "apple",
    )


def _session(landing: Landing, request: Request, view: CampaignView) -> DonePageSession | None:
    fan = landing.sessions.read(request.cookies.get(SESSION_COOKIE))
    return fan if fan is not None and fan.campaign_id == view.id else None


def _no_session(request: Request, view: CampaignView) -> Response:
    return views.problem(
        request,
        200,
        "Pre-save first",
        "This page shows your choices right after you pre-save, in the same browser. "
        "Start from the campaign page.",
        retry_url=f"/{view.slug}",
        view=view,
    )


def _erased(request: Request, view: CampaignView) -> Response:
    return views.problem(
        request, 410, "Pre-save erased", "This pre-save was erased.", retry_url=f"/{view.slug}", view=view
    )


def _tokens(landing: Landing, grant: Grant) -> Tokens | None:
    try:
        return open_tokens(landing.vault, grant.access_token, None, grant.token_expires_at, grant.scopes)
    except VaultError:  # the page shows without the service's names and playlists
        landing.vault_failed(grant.id, "the done page")
        return None


def _fan_grant(session: Session, grant_id: int) -> Grant | None:
    """The grant the fan's cookie names, or the one it was merged into since (the same account had
    granted first); None once the fan was forgotten."""
    surviving = surviving_grant(session, grant_id)
    return session.get(Grant, surviving) if surviving is not None else None


def _detached_grant(session: Session, grant_id: int) -> Grant | None:
    """`_fan_grant`, readable after the session ends."""
    grant = _fan_grant(session, grant_id)
    if grant is not None:
        session.expunge(grant)
    return grant


def show(landing: Landing, request: Request, view: CampaignView) -> Response:
    fan = _session(landing, request, view)
    if fan is None:
        return _no_session(request, view)
    with landing.store.session() as session:
        grant = _detached_grant(session, fan.grant_id)
        if grant is None:
            return _erased(request, view)
        if grant.status == GrantStatus.UNREGISTERED:  # the label's app can never save for this fan
            return remind.turned_away_page(request, view, grant.service)
        ledger = {(a.kind, a.target): _shown(a) for a in ledger_of(session, grant.id)}
        consented = has_live_consent(session, grant.id, EMAIL_SCOPE)
        future_checked = future.is_opted_in(session, grant.id)
    offer = offer_for(view, grant.service)
    tokens = _tokens(landing, grant)
    choices = grant.choices or {}
    completed = bool(choices.get("completed_at"))
    declined = set(choices.get("declined_follows") or [])
    boxes = [
        FollowBox(
            uri, _entity_label(landing, grant.service, tokens, uri), not (completed and uri in declined)
        )
        for uri in offer.follows
    ]
    playlists, playlists_failed = _playlists(landing, grant, tokens) if offer.playlist_choice else ([], False)
    chosen = choices.get("playlist") or {}
    consent_text = email_consent_text(view.spec.artist, view.spec.consent)
    return views.render(
        request,
        "done.html",
        {
            "title": f"Saved — {view.spec.title}",
            "service": grant.service,
            "service_name": SERVICE_NAMES[grant.service],
            "unverified": grant.status == GrantStatus.UNVERIFIED,
            "artist_followed": _outcome(ledger, ActionKind.FOLLOW_ARTIST),
            "preadded": _outcome(ledger, ActionKind.PREADD),
            "follows": boxes,
            "playlist_choice": offer.playlist_choice,
            "playlists": playlists,
            "playlists_failed": playlists_failed,
            "new_playlist_name": offer.new_playlist_name,
            "chosen_playlist": "new"
            if chosen.get("new")
            else (f"id:{chosen['id']}" if chosen.get("id") else "none"),
            "consent_text": consent_text,
            "email_checked": consented,
            "future_text": future_consent_text(view.spec.artist),
            "future_checked": future_checked,
            "email_field": offer.email_field,
            "completed": completed,
            "email_notice": EMAIL_NOTICES.get(request.query_params.get("email", "")),
            "csrf": landing.sessions.csrf_token(fan),
            "reference": grant.fan_key,
            "release_label": view.spec.release_at.strftime("%d %B %Y").lstrip("0"),
        },
        view=view,
    )


def _shown(action: OwedAction) -> str:
    """What the fan is told of an action: its outcome, or `answered` for a call the service answered that
    is checked before it counts (`at_grant`)."""
    if action.outcome == Outcome.QUEUED and action.reason == UNCONFIRMED_FOLLOW:
        return "answered"
    return action.outcome


def _outcome(ledger: dict[tuple[str, str], str], kind: str) -> str | None:
    for (action_kind, _), outcome in ledger.items():
        if action_kind == kind:
            return outcome
    return None


def _entity_label(landing: Landing, service: str, tokens: Tokens | None, uri: str) -> str:
    kind, entity_id = uri.split(":")[1:3]
    connector = landing.connectors.get(service)
    name = None
    if tokens is not None and connector is not None:
        try:
            name = connector.entity_name(tokens, uri)
        except ServiceError:
            name = None
    return f"{kind.capitalize()}: {name or entity_id}"


def _playlists(landing: Landing, grant: Grant, tokens: Tokens | None) -> tuple[list[FanPlaylist], bool]:
    if tokens is None:
        return [], True
    connector = landing.connectors.get(grant.service)
    if connector is None:
        return [], False
    try:
        return connector.playlists(tokens, grant.service_user_id)[:30], False
    except ServiceError:
        return [], True


def complete(
    landing: Landing,
    request: Request,
    view: CampaignView,
    *,
    csrf: str | None,
    follows: list[str],
    playlist: str | None,
    email_opt_in: str | None,
    email: str | None,
    future_saves: str | None = None,
) -> Response:
    """The fan completes: kept follows happen now; playlist choice and consents are recorded."""
    fan = _session(landing, request, view)
    if (
        fan is None
        or not landing.sessions.csrf_ok(fan, csrf)
        or not same_origin(dict(request.headers), landing.public_origin)
    ):
        return _forbidden(request, view)
    with landing.store.session() as session:
        grant = _detached_grant(session, fan.grant_id)
    if grant is None:
        return _erased(request, view)
    offer = offer_for(view, grant.service)
    try:
        done = read_done_form(
            offer, follows=follows, playlist=playlist, email_opt_in=email_opt_in, email=email
        )
    except FormProblem as exc:
        return views.problem(
            request,
            400,
            "Please check the form",
            f"{_field_name(exc.field)} {exc.why}.",
            retry_url=f"/{view.slug}/done",
            view=view,
        )
    tokens = _tokens(landing, grant)
    problem = _follow(landing, grant.service, tokens, done)
    now = datetime.now(UTC)
    consent = {"text": email_consent_text(view.spec.artist, view.spec.consent), "at": now.isoformat()}
    consent["version"] = text_version(consent["text"])
    visitor, _ = views.visitor_of(request)
    visit = landing.visit(request, visitor)
    with landing.writes.session() as session:
        live = _fan_grant(session, fan.grant_id)
        if live is None:
            return _erased(request, view)
        round_trip = _record_choices(landing, session, live, done, problem, consent, now)
        future.record_future_choice(session, live, future.ticked(future_saves), view.spec.artist, now)
        visit = attribution_of(session, live.id) or visit
        record_event(
            session, event_row(view.id, EventKind.COMPLETE, visit, service=live.service, grant_id=live.id)
        )
    browser, _ = browser_of(request.cookies.get(BROWSER_COOKIE))
    sign_in = start_email(landing, grant, view, consent, browser) if round_trip else None
    response = RedirectResponse(sign_in or f"/{view.slug}/done", status_code=303)
    if sign_in:
        views.bind_browser(response, landing, browser)
    return response


def _follow(landing: Landing, service: str, tokens: Tokens | None, done: DoneChoices) -> str | None:
    """The kept follows, in one call: None when it was answered, else why not."""
    if not done.follows:
        return None
    connector = landing.connectors.get(service)
    if tokens is None or connector is None:
        return "token_unavailable"
    try:
        connector.follow(tokens, list(done.follows))
    except ServiceError as exc:
        return exc.code
    return None


def _record_choices(
    landing: Landing,
    session: Session,
    grant: Grant,
    done: DoneChoices,
    problem: str | None,
    consent: dict[str, str],
    now: datetime,
) -> bool:
    """Write the choices; True when the email still has to come from the service (a second sign-in)."""
    ref = GrantRef.of(grant)
    for uri in done.follows:
        record_at_grant(session, ref, ActionKind.FOLLOW, uri, at_grant(ActionKind.FOLLOW, uri, problem))
    previous = dict(grant.choices or {})
    choices = completed_choices(previous, done, now)
    round_trip = False
    if not done.email_opt_in:
        withdraw_consent(session, grant, scope=EMAIL_SCOPE, at=now)
    elif done.email is not None:  # typed on the page (Apple Music shares no address)
        grant.email = landing.vault.seal(Secret(done.email))
        give_consent(
            session, grant, scope=EMAIL_SCOPE, text=consent["text"], version=consent["version"], at=now
        )
    elif grant.email and has_live_consent(session, grant.id, EMAIL_SCOPE):
        pass  # opted in before: nothing new to ask
    else:
        choices["email_opt_in"] = bool(previous.get("email_opt_in"))  # set once the address arrives
        round_trip = True
    grant.choices = choices
    return round_trip


def _field_name(field: str) -> str:
    return {
        "follow": "A follow choice",
        "playlist": "The playlist choice",
        "email_opt_in": "The email box",
        "email": "The email address",
    }.get(field, field)


def _forbidden(request: Request, view: CampaignView | None) -> Response:
    return views.problem(
        request,
        403,
        "Form expired",
        "This form expired or did not come from this page. Open the page again and resubmit.",
        retry_url=f"/{view.slug}/done" if view else "/forget",
        view=view,
    )


def erase(landing: Landing, request: Request, csrf: str | None) -> Response:
    """The erase button on the done page: this browser's grant and its personal data go now."""
    fan = landing.sessions.read(request.cookies.get(SESSION_COOKIE))
    if (
        fan is None
        or not landing.sessions.csrf_ok(fan, csrf)
        or not same_origin(dict(request.headers), landing.public_origin)
    ):
        return _forbidden(request, None)
    landing.events.flush()  # the fan's queued events must be in the store to be made anonymous with the rest
    with landing.writes.session() as session:
        grant = _fan_grant(session, fan.grant_id)
        carried = future.carried_from(session, grant) if grant is not None else []  # its future saves too
        erasure = erase_grants(session, [grant.id, *carried] if grant is not None else [])
    response = views.render(
        request,
        "forgotten.html",
        {
            "title": "Erased",
            "service_name": SERVICE_NAMES.get(fan.service, "the service"),
            "grants": erasure.grants,
        },
    )
    views.clear_session(response)
    return response


def forget_page(landing: Landing, request: Request) -> Response:
    fan = landing.sessions.read(request.cookies.get(SESSION_COOKIE))
    return views.render(
        request,
        "forget.html",
        {
            "title": "Erase your data",
            "csrf": landing.sessions.csrf_token(fan) if fan else None,
            "services": list(landing.connectors.oauth_services),
        },
    )
