"""The done page's future-save opt-in: unticked by default, in plain words, a versioned consent record;
unticking withdraws it and the saves carried over to the artist's next releases."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from campaigns.future_saves import FUTURE_SCOPE, future_consent_text, is_future_save, plan_future_saves
from campaigns.models import Campaign, ConsentRecord, Grant
from collectors.landing.consent import text_version
from tests.integration.conftest import System, soon
from tests.integration.landing_helpers import Fan, add_campaign, all_services, hidden


def _consents(system: System) -> list[ConsentRecord]:
    with system.store.session() as session:
        return list(
            session.scalars(
                select(ConsentRecord).where(ConsentRecord.scope == FUTURE_SCOPE).order_by(ConsentRecord.id)
            )
        )


def _carry_to(system: System, slug: str) -> int:
    with system.store.session() as session:
        campaign = session.scalars(select(Campaign).where(Campaign.slug == slug)).one()
        return plan_future_saves(session, campaign, campaign.release_at - timedelta(days=1))


def test_the_future_save_box_is_unticked_and_ticking_it_keeps_a_consent_record(system: System) -> None:
    add_campaign(system, "midnight-drive", soon(), services=all_services())
    with Fan(system) as fan:
        fan.oauth("midnight-drive", "spotify", "fan-kai")
        page = fan.done("midnight-drive")
        completed = fan.complete("midnight-drive", future_saves="yes")
        after = fan.done("midnight-drive")

    text = future_consent_text("Nova Lane")
    assert 'name="future_saves" value="yes" id="future-saves">' in page.text  # not checked
    assert text.replace("'", "&#39;") in page.text
    assert completed.status_code == 303
    assert 'id="future-saves" checked>' in after.text
    [record] = _consents(system)
    assert record.text == text
    assert record.text_version == text_version(text)
    assert record.withdrawn_at is None


def test_unticking_withdraws_the_opt_in_and_the_saves_carried_over(system: System) -> None:
    add_campaign(system, "midnight-drive", soon(), services=all_services())
    add_campaign(system, "second-single", soon(86400 * 40), services=all_services())
    with Fan(system) as fan:
        fan.oauth("midnight-drive", "spotify", "fan-kai")
        fan.complete("midnight-drive", future_saves="yes")
        carried = _carry_to(system, "second-single")
        fan.complete("midnight-drive")  # the box left unticked this time

    assert carried == 1
    [record] = _consents(system)
    assert record.withdrawn_at is not None
    with system.store.session() as session:
        left = [g.choices for g in session.scalars(select(Grant))]
    assert not any(is_future_save(choices) for choices in left)
    assert _carry_to(system, "second-single") == 0


def test_erasing_the_pre_save_erases_the_saves_carried_over_from_it(system: System) -> None:
    add_campaign(system, "midnight-drive", soon(), services=all_services())
    add_campaign(system, "second-single", soon(86400 * 40), services=all_services())
    with Fan(system) as fan:
        fan.oauth("midnight-drive", "spotify", "fan-kai")
        fan.complete("midnight-drive", future_saves="yes")
        _carry_to(system, "second-single")
        page = fan.done("midnight-drive")
        erased = fan.http.post(
            "/forget",
            data={"csrf": hidden(page.text, "csrf")},
            headers={"Origin": system.settings.public_url},
        )

    assert erased.status_code == 200
    assert "We erased 2 pre-saves" in erased.text
    with system.store.session() as session:
        assert session.scalars(select(Grant)).all() == []
