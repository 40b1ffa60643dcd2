"""A grant whose sealed token the configured keys cannot open (a key removed too soon): the done page
still answers, the failure is logged without the token and counted on `/healthz`, and the grant's owed
calls stay owed. Real sandbox and landing app over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import update

from campaigns.models import Grant
from campaigns.vault import Secret, TokenVault
from tests.integration.conftest import System, add_campaign, add_release, soon
from tests.integration.landing_helpers import Fan, grants

SLUG = "midnight-drive"
UPC = "198880045560"
LOST_TOKEN = "token-sealed-with-a-key-no-longer-configured"


def _vault_errors(system: System) -> int:
    body = httpx.get(f"{system.landing_url}/healthz", timeout=5).text
    [line] = [line for line in body.splitlines() if line.startswith("vault_errors ")]
    return int(line.split()[1])


def test_a_token_the_keys_cannot_open_is_logged_and_counted_and_the_page_still_answers(
    system: System, caplog: pytest.LogCaptureFixture
) -> None:
    add_release(system, UPC, soon())
    add_campaign(system, SLUG, UPC, soon())
    with Fan(system) as fan:
        assert fan.visit(SLUG).status_code == 200
        assert fan.oauth(SLUG, "spotify", "fan-ivo").status_code == 303
        [grant] = grants(system)
        foreign = TokenVault([Fernet.generate_key().decode()]).seal(Secret(LOST_TOKEN))
        with system.store.session() as session:
            session.execute(update(Grant).where(Grant.id == grant.id).values(access_token=foreign))
        assert _vault_errors(system) == 0
        with caplog.at_level(logging.ERROR, logger="collectors.landing"):
            page = fan.done(SLUG)
    assert page.status_code == 200
    assert _vault_errors(system) == 1
    lines = [r.getMessage() for r in caplog.records if "cannot be opened" in r.getMessage()]
    assert lines == [f"grant {grant.id}: its token cannot be opened with the configured keys (the done page)"]
    assert all(LOST_TOKEN not in r.getMessage() and foreign not in r.getMessage() for r in caplog.records)
    assert [g.status for g in grants(system)] == ["active"]  # kept: its save is still owed on release day
