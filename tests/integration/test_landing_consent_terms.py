"""A campaign's consent terms reach the done page's words and the consent record the fan agrees to."""

from __future__ import annotations

from sqlalchemy import select

from campaigns.campaign_file import ConsentTerms
from campaigns.models import ConsentRecord
from collectors.landing.consent import email_consent_text, text_version
from tests.integration.conftest import System, soon
from tests.integration.landing_helpers import Fan, add_campaign, all_services

TERMS = {"label": "Harbour Records", "privacy_url": "https://harbour.example/privacy"}


def test_the_apple_opt_in_names_the_label_and_policy_and_records_those_words(system: System) -> None:
    add_campaign(system, "midnight-drive", soon(), services=all_services(), consent=TERMS)
    text = email_consent_text("Nova Lane", ConsentTerms(**TERMS))
    with Fan(system) as fan:
        fan.apple("midnight-drive", "apple-fan")
        page = fan.done("midnight-drive")
        fan.complete("midnight-drive", email_opt_in="yes", email="fan@mail.example")

    assert "Harbour Records" in page.text
    assert "https://harbour.example/privacy" in page.text
    with system.store.session() as session:
        [record] = session.scalars(select(ConsentRecord)).all()
    assert record.text == text
    assert record.text_version == text_version(text)
