"""The email opt-in's words per campaign: the label and its privacy policy, versioned with the text."""

from __future__ import annotations

import pytest

from campaigns.campaign_file import CampaignFileError, ConsentTerms, parse_campaign
from collectors.landing.consent import email_consent_text, text_version
from tests.messages.world import campaign_document


@pytest.mark.parametrize(
    ("terms", "words"),
    [
        (None, "goes to Nova Lane and their team for this only"),
        (ConsentTerms(label="Harbour Records"), "goes to Nova Lane, their team and Harbour Records for this"),
        (
            ConsentTerms(label="Harbour Records", privacy_url="https://harbour.example/privacy"),
            "unsubscribe at any time. Privacy policy: https://harbour.example/privacy",
        ),
    ],
)
def test_the_opt_in_names_the_label_and_its_privacy_policy_when_the_campaign_says(
    terms: ConsentTerms | None, words: str
) -> None:
    assert words in email_consent_text("Nova Lane", terms)


def test_other_terms_make_another_consent_version() -> None:
    plain = email_consent_text("Nova Lane")
    named = email_consent_text("Nova Lane", ConsentTerms(label="Harbour Records"))

    assert text_version(plain) != text_version(named)
    assert text_version(named) == text_version(
        email_consent_text("Nova Lane", ConsentTerms(label="Harbour Records"))
    )


def test_the_campaign_file_takes_consent_terms() -> None:
    spec = parse_campaign(
        campaign_document(
            consent={"label": "Harbour Records", "privacy_url": "https://harbour.example/privacy"}
        )
    )

    assert spec.consent == ConsentTerms(
        label="Harbour Records", privacy_url="https://harbour.example/privacy"
    )
    assert parse_campaign(spec.to_document()) == spec


@pytest.mark.parametrize(
    "consent", [{"privacy_url": "harbour.example/privacy"}, {"label": ""}, {"label": "Harbour", "owner": "x"}]
)
def test_bad_consent_terms_are_refused_naming_the_field(consent: dict) -> None:
    with pytest.raises(CampaignFileError, match="consent"):
        parse_campaign(campaign_document(consent=consent))
