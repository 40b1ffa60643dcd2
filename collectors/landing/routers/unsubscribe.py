"""One-click unsubscribe from fan messages (RFC 8058).

The link in every message carries a signed message id. `GET` shows a page with one button (mail
scanners follow links, so a GET never unsubscribes); `POST` unsubscribes at once, with no session and
no form token: the signature is the proof, and mail providers send `List-Unsubscribe=One-Click` from
their own servers. Unsubscribing ends every email consent of the fan and stops their queued messages.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from campaigns import message_ledger
from collectors.landing import views
from collectors.landing.guards import LandingDep, PageLimited

router = APIRouter()


def _unknown(request: Request) -> Response:
    return views.problem(
        request,
        404,
        "Link not recognised",
        "This unsubscribe link is not one of ours, or it was cut short. Copy the whole link from the "
        "message, or reply to it and ask to stop.",
    )


@router.get("/unsubscribe/{token}", dependencies=[PageLimited])
def unsubscribe_page(request: Request, token: str, landing: LandingDep) -> Response:
    if message_ledger.read_unsubscribe_token(landing.vault, token) is None:
        return _unknown(request)
    return views.render(request, "unsubscribe.html", {"title": "Unsubscribe", "token": token, "done": False})


# not limited: one-click unsubscribes arrive from a mail provider's few servers, many fans each
@router.post("/unsubscribe/{token}")
def unsubscribe(request: Request, token: str, landing: LandingDep) -> Response:
    message_id = message_ledger.read_unsubscribe_token(landing.vault, token)
    if message_id is None:
        return _unknown(request)
    with landing.writes.session() as session:
        message_ledger.unsubscribe(session, message_id, now=datetime.now(UTC))
    return views.render(request, "unsubscribe.html", {"title": "Unsubscribed", "token": token, "done": True})
