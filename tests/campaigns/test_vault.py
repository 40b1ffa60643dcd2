from __future__ import annotations

import logging
import pickle

import pytest
from cryptography.fernet import Fernet

from campaigns.vault import Secret, TokenVault, VaultError


def test_a_sealed_token_opens_to_the_same_value_and_does_not_contain_it() -> None:
    vault = TokenVault([Fernet.generate_key().decode()])
    sealed = vault.seal("BQC-access-token-value")
    assert "BQC-access-token-value" not in sealed
    assert vault.open(sealed).reveal() == "BQC-access-token-value"


def test_a_secret_never_shows_itself() -> None:
    secret = Secret("BQC-access-token-value")
    assert "BQC" not in repr(secret)
    assert "BQC" not in str(secret)
    assert "BQC" not in f"{secret}"
    assert "BQC" not in repr({"token": secret})
    with pytest.raises(TypeError):
        pickle.dumps(secret)


def test_a_secret_in_a_log_line_is_masked(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        logging.getLogger("test").info("refreshing %s", Secret("BQC-access-token-value"))
    assert "BQC" not in caplog.text
    assert "********" in caplog.text


def test_rotation_opens_old_tokens_and_reseals_them_under_the_new_key() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed_with_old = TokenVault([old]).seal("refresh-token")
    rotated = TokenVault([new, old])
    assert rotated.open(sealed_with_old).reveal() == "refresh-token"
    resealed = rotated.reseal(sealed_with_old)
    assert TokenVault([new]).open(resealed).reveal() == "refresh-token"
    with pytest.raises(VaultError):
        TokenVault([new]).open(sealed_with_old)


def test_a_wrong_key_error_does_not_quote_the_sealed_value() -> None:
    sealed = TokenVault([Fernet.generate_key().decode()]).seal("refresh-token")
    with pytest.raises(VaultError) as caught:
        TokenVault([Fernet.generate_key().decode()]).open(sealed)
    assert sealed not in str(caught.value)
    assert caught.value.__cause__ is None


def test_a_malformed_key_is_refused_by_name() -> None:
    with pytest.raises(VaultError, match="PRESAVE_SECRET_KEY"):
        TokenVault(["not-a-fernet-key"])


def test_pseudonyms_are_stable_across_rotation_and_distinct_per_person() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    before = TokenVault([old]).pseudonym("spotify", "fan-1")
    after = TokenVault([new, old]).pseudonym("spotify", "fan-1")
    assert before == after
    assert before != TokenVault([old]).pseudonym("spotify", "fan-2")
    assert "fan-1" not in before
