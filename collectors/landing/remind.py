"""Reminder pre-saves on the landing app: the form (on the campaign page, and on the done page of a fan a
development-mode Spotify app turned away), `POST /{slug}/remind`, and the tracked link of the release-day
reminder (`GET /r/{token}`: counted as a click, then a redirect to the release on the fan's service)."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from campaigns.models import EventKind
from campaigns.reminders import Reason, Signup, click_target, read_click_token, sign_up
from campaigns.rules import SERVICE_NAMES
from collectors.landing import views
from collectors.landing.choices import EMAIL_ADDRESS
from collectors.landing.consent import text_version
from collectors.landing.context import Landing
from collectors.landing.events import event_row
from collectors.landing.page import CampaignView, release_label


def reminder_consent_text(view: CampaignView) -> str:
    """The reminder's opt-in, word for word (kept with the consent record)."""
    spec = view.spec
    return (
        f"Email me once when {spec.title} by {spec.artist} is out, with a link to it on the service I "
        f"chose. My address is used for this only, and I can unsubscribe at any time."
    )


def form_context(view: CampaignView, *, turned_away: bool = False) -> dict[str, object]:
    """What `remind_form.html` needs; no services, no form."""
    services = view.reminder_services
    if turned_away and "spotify" not in services:
        services = ("spotify", *services)
    names = ", ".join(SERVICE_NAMES[s] for s in services)
    note: str | None = (
        f"This label cannot save to your library on {names}: leave your email and we send you a link to "
        "the release on release day."
    )
    if view.spotify_full:
        note = (
            f"{note} (Spotify: the label's app is in Spotify's development mode, which admits five "
            "listeners, and those places are taken.)"
        )
    if turned_away:
        note = None  # the page above says why
    return {
        "remind_services": services,
        "remind_selected": "spotify" if turned_away else (services[0] if services else None),
        "remind_heading": "Get a reminder on release day",
        "remind_note": note,
        "remind_consent": reminder_consent_text(view),
        "turned_away": turned_away,
    }


def reason_for(view: CampaignView, service: str) -> str:
    if service in view.spec.services.link_only():
        return Reason.LINK_ONLY
    if service == "spotify" and view.spotify_full:
        return Reason.SPOTIFY_FULL
    return Reason.NO_APP


@dataclass(frozen=True)
class ReminderForm:
    service: str
    address: str


def read_form(
    view: CampaignView,
    service: str | None,
    email: str | None,
    consent: str | None,
    *,
    turned_away: bool = False,
) -> ReminderForm | str:
    """The form's fields, or the one thing wrong with them (said to the fan)."""
    if service not in view.reminder_services and not (turned_away and service == "spotify"):
        return "Choose one of the services listed for a reminder."
    address = (email or "").strip()
    if not address or len(address) > 254 or not EMAIL_ADDRESS.match(address):
        return "That is not an email address."
    if (consent or "").strip().lower() not in ("yes", "on", "true", "1"):
        return "Tick the box to agree to the one reminder email."
    return ReminderForm(service, address)


def remind(
    landing: Landing,
    request: Request,
    view: CampaignView,
    service: str | None,
    email: str | None,
    consent: str | None,
    turned_away: bool = False,
) -> Response:
    form = read_form(view, service, email, consent, turned_away=turned_away)
    if isinstance(form, str):
        return views.problem(request, 400, "No reminder set", form, retry_url=f"/{view.slug}", view=view)
    visitor, _ = views.visitor_of(request)
    visit = landing.visit(request, visitor)
    text = reminder_consent_text(view)
    signup = Signup(
        campaign_id=view.id,
        service=form.service,
        address=form.address,
        consent_text=text,
        consent_version=text_version(text),
        reason=Reason.TURNED_AWAY
        if turned_away and form.service == "spotify"
        else reason_for(view, form.service),
        country=visit.get("country"),
        fan_timezone=visit.get("timezone"),
    )
    with landing.writes.session() as session:
        grant_id, new = sign_up(session, landing.vault, signup)
    landing.events.add(
        event_row(
            view.id,
            EventKind.REMINDER,
            visit,
            service=form.service,
            grant_id=grant_id,
            detail=None if new else "again",
        )
    )
    return views.render(
        request,
        "reminded.html",
        {
            "title": f"Reminder set — {view.spec.title}",
            "service_name": SERVICE_NAMES[form.service],
            "release_label": release_label(view.spec),
        },
        view=view,
    )


def follow_reminder(landing: Landing, request: Request, token: str) -> Response:
    """The release-day reminder's link: counted (the message's campaign, service and grant: no address),
    then on to the release on the fan's service."""
    message_id = read_click_token(landing.vault, token)
    click = None
    if message_id is not None:
        with landing.store.session() as session:
            click = click_target(session, message_id)
    if click is None:
        return views.problem(
            request, 404, "Link not found", "This link is not one of ours, or it has expired."
        )
    landing.events.add(
        event_row(
            click.campaign_id,
            EventKind.REMINDER_CLICK,
            {"utm_source": "email", "utm_medium": "reminder"},
            service=click.service,
            grant_id=click.grant_id,
        )
    )
    return RedirectResponse(click.url, status_code=302)


def turned_away_page(request: Request, view: CampaignView, service: str) -> Response:
    """The done page of a fan the label's development-mode Spotify app refused: said plainly, with the
    reminder and the other services on the spot."""
    return views.render(
        request,
        "turned_away.html",
        {
            "title": f"Not saved on {SERVICE_NAMES[service]} — {view.spec.title}",
            "service_name": SERVICE_NAMES[service],
            "others": [s for s in view.presave_services if s != service],
            **form_context(view, turned_away=True),
        },
        view=view,
    )
