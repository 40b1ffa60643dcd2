"""Forgetting by signing in finds the fan's grants stored before `/me` answered (`pending:` account ids):
each is asked who it is with its own token, and the fan's are erased with the rest. Real sandbox and
landing app over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import httpx
from cryptography.fernet import Fernet
from sqlalchemy import select, update

from campaigns.models import Grant, OwedAction
from campaigns.vault import Secret, TokenVault
from tests.integration.conftest import System, add_campaign, add_release, soon
from tests.integration.landing_helpers import Fan, grants, spotify_fails

SLUG = "midnight-drive"
UPC = "198880045560"


def _forget(fan: Fan, fan_id: str) -> str:
    start = fan.http.get("/forget/connect/spotify")
    assert start.status_code == 302
    page = fan.authorize(start.headers["location"], fan_id)
    assert page.status_code == 200, page.text
    return page.text


def test_signing_in_to_forget_erases_a_pre_save_stored_before_the_service_said_whose_it_is(
    system: System,
) -> None:
    add_release(system, UPC, soon())
    add_campaign(system, SLUG, UPC, soon())
    spotify_fails(system, True)
    with Fan(system) as fan:
        assert fan.visit(SLUG).status_code == 200
        assert fan.oauth(SLUG, "spotify", "fan-fay").status_code == 303
    with Fan(system) as other:  # another fan, also stored before `/me` answered: not theirs to erase
        assert other.visit(SLUG).status_code == 200
        assert other.oauth(SLUG, "spotify", "fan-gus").status_code == 303
    assert all(g.service_user_id.startswith("pending:") for g in grants(system))
    spotify_fails(system, False)

    with Fan(system) as fan:  # signs in from another browser: only the account proves whose it is
        page = _forget(fan, "fan-fay")
    assert "We erased 1 pre-save" in page
    assert [g.service_user_id for g in grants(system)] == ["fan-gus"]  # the other fan, identified meanwhile
    with system.store.session() as session:
        kinds = session.execute(select(OwedAction.kind, OwedAction.outcome)).all()
    assert ("identify", "delivered") in kinds  # the other fan's `/me` was read: not asked again
    assert len(kinds) == 2  # the other fan's identify and follow; nothing of the erased fan


def test_a_pending_grant_that_cannot_be_checked_is_said_so_and_not_passed_over_silently(
    system: System,
) -> None:
    add_release(system, UPC, soon())
    add_campaign(system, SLUG, UPC, soon())
    spotify_fails(system, True)
    with Fan(system) as fan:
        assert fan.visit(SLUG).status_code == 200
        assert fan.oauth(SLUG, "spotify", "fan-lu").status_code == 303
    spotify_fails(system, False)
    [pending] = grants(system)
    foreign = TokenVault([Fernet.generate_key().decode()]).seal(Secret("a-token-no-key-here-opens"))
    with system.store.session() as session:  # sealed with a key this deployment no longer has
        session.execute(update(Grant).where(Grant.id == pending.id).values(access_token=foreign))

    with Fan(system) as fan:
        page = _forget(fan, "fan-lu")
    assert "We hold no pre-save" in page
    assert "1 recent pre-save made while Spotify was not answering could not be checked now" in page
    assert [g.id for g in grants(system)] == [pending.id]
    health = httpx.get(f"{system.landing_url}/healthz", timeout=5).text
    assert "vault_errors 1" in health.splitlines()
