"""The callback while the app's shared pacing cannot be read (its Redis does not answer): the grant is
stored, `/me` and the artist follow stay owed (nothing sent to the Web API), and the fan sees the done
page. Real sandbox and landing app over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from sqlalchemy import select

from campaigns.models import OwedAction
from collectors.landing.app import create_app as create_landing
from presave.processes import free_port
from presave.servers import LoopbackServer
from tests.integration.conftest import ARTIST_ID, System, add_campaign, add_release, soon
from tests.integration.landing_helpers import Fan, grants

SLUG = "midnight-drive"
UPC = "198880045560"


@pytest.fixture
def unpaced_system(system: System) -> Iterator[System]:
    """A landing app on the same sandbox and store whose pacing lives in a Redis that does not answer."""
    port = free_port(0)
    settings = system.settings.model_copy(
        update={"redis_url": f"redis://127.0.0.1:{free_port(0)}/0", "public_url": f"http://127.0.0.1:{port}"}
    )
    app = create_landing(settings, system.store)
    with LoopbackServer(app, port=port) as server:
        yield replace(system, settings=settings, landing_url=server.url, landing_app=app)


def test_a_fan_who_authorizes_while_the_pacing_cannot_be_read_is_stored_with_the_calls_owed(
    unpaced_system: System,
) -> None:
    system = unpaced_system
    add_release(system, UPC, soon())
    add_campaign(system, SLUG, UPC, soon())
    with Fan(system) as fan:
        assert fan.visit(SLUG).status_code == 200
        callback = fan.oauth(SLUG, "spotify", "fan-cy")
        assert callback.status_code == 303, callback.text
        assert callback.headers["location"] == f"/{SLUG}/done"
        assert fan.done(SLUG).status_code == 200

    [grant] = grants(system)
    assert grant.service_user_id.startswith("pending:")  # `/me` was not sent
    with system.store.session() as session:
        owed = session.execute(select(OwedAction.kind, OwedAction.outcome, OwedAction.reason)).all()
    assert {(kind, outcome) for kind, outcome, _ in owed} == {
        ("identify", "queued"),
        ("follow_artist", "queued"),
    }
    assert ("identify", "queued", "pacing_unavailable") in owed
    assert [c for c in system.calls() if c["service"] == "spotify"] == []  # no Web API call
    assert system.fan("fan-cy")["follows"] == []
    assert ARTIST_ID  # the campaign's artist, followed later by the executor
