"""The email opt-in: the exact text a fan agrees to, and its version (a digest of that text).

A consent record keeps the text itself, its version, the time, the campaign and the scope, so what a
fan agreed to can be shown later word for word, even after the wording changes.
"""

from __future__ import annotations

import hashlib

from campaigns.campaign_file import ConsentTerms

EMAIL_SCOPE = "email_updates"
EMAIL_TEXT_REVISION = "1"


def email_consent_text(artist: str, terms: ConsentTerms | None = None) -> str:
    """The opt-in's words; a campaign's `consent:` names the label and its privacy policy in them."""
    team = f"{artist}, their team and {terms.label}" if terms and terms.label else f"{artist} and their team"
    policy = f" Privacy policy: {terms.privacy_url}" if terms and terms.privacy_url else ""
    return (
        f"Yes, email me news from {artist}: new music, shows and offers. My email address goes to "
        f"{team} for this only, and I can unsubscribe at any time.{policy}"
    )


def text_version(text: str) -> str:
    """`<revision>-<digest>`: changes whenever the words do (the artist's name included)."""
    return f"{EMAIL_TEXT_REVISION}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"
