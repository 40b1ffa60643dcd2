"""A fan who pre-saves twice, the second time while Spotify's `/me` fails: the second grant is stored
provisionally and the browser's done-page cookie names it. When the executor later learns whose it is,
it folds into the fan's first grant; the done page (and its form, and its erase button) then show and
act on that first grant instead of saying the pre-save was erased. Real sandbox and landing app over
HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from campaigns.vault import TokenVault
from executor.release import run_release
from services.spotify import SpotifyApp
from tests.integration.conftest import System, add_campaign, add_release, soon
from tests.integration.landing_helpers import Fan, grants, hidden, spotify_fails

SLUG = "midnight-drive"
UPC = "198880045560"


def _identify_later(system: System) -> None:
    """The executor's run: `identify` reads `/me` for the provisional grant, which merges."""
    vault = TokenVault(system.settings.secret_keys(), system.settings.vault().pseudonyms)
    run_release(system.store, vault, {"spotify": SpotifyApp.from_settings(system.settings)}, SLUG)


def test_the_done_page_of_a_grant_merged_later_shows_the_fans_surviving_grant(system: System) -> None:
    add_release(system, UPC, soon())
    add_campaign(system, SLUG, UPC, soon())
    with Fan(system) as elsewhere:  # the fan's first pre-save, from another device
        assert elsewhere.visit(SLUG).status_code == 200
        assert elsewhere.oauth(SLUG, "spotify", "fan-jo").status_code == 303
    [first] = grants(system)
    spotify_fails(system, True)
    with Fan(system) as fan:
        assert fan.visit(SLUG).status_code == 200
        assert fan.oauth(SLUG, "spotify", "fan-jo").status_code == 303
        assert len(grants(system)) == 2  # stored before `/me` answered
        spotify_fails(system, False)
        _identify_later(system)
        assert [g.id for g in grants(system)] == [first.id]  # merged into the first

        page = fan.done(SLUG)
        assert page.status_code == 200, page.text
        assert "erased" not in page.text.lower()
        completed = fan.complete(SLUG)
        assert completed.status_code == 303, completed.text
        assert completed.headers["location"] == f"/{SLUG}/done"
        [survivor] = grants(system)
        assert (survivor.choices or {}).get("completed_at")  # the form acted on the surviving grant

        csrf = hidden(fan.done(SLUG).text, "csrf")
        erased = fan.http.post("/forget", data={"csrf": csrf}, headers={"Origin": system.settings.public_url})
    assert erased.status_code == 200
    assert "We erased 1 pre-save" in erased.text
    assert grants(system) == []
