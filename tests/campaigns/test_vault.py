from __future__ import annotations

import hashlib
import hmac
import logging
import pickle

import pytest
from cryptography.fernet import Fernet

from campaigns.vault import LEGACY_PREFIX, PseudonymKeys, Secret, TokenVault, VaultError


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


SECRET = "pseudonym-secret-for-the-tests-0001"


def test_fan_keys_do_not_change_when_the_fernet_key_rotates_and_the_old_one_is_removed() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    before = TokenVault([old], PseudonymKeys(SECRET)).pseudonym("spotify", "fan-1")
    during = TokenVault([new, old], PseudonymKeys(SECRET)).pseudonym("spotify", "fan-1")
    after = TokenVault([new], PseudonymKeys(SECRET)).pseudonym("spotify", "fan-1")
    assert before == during == after
    assert before != TokenVault([old], PseudonymKeys(SECRET)).pseudonym("spotify", "fan-2")
    assert "fan-1" not in before


def test_each_purpose_has_its_own_key() -> None:
    keys = PseudonymKeys(SECRET)
    derived = [keys.key(p) for p in PseudonymKeys.PURPOSES]
    assert len(set(derived)) == len(derived)
    vault = TokenVault([Fernet.generate_key().decode()], keys)
    assert vault.visitor_key("abc") != vault.pseudonym("abc")
    assert SECRET.encode() not in derived


def test_a_vault_without_a_pseudonym_key_refuses_to_hash_people() -> None:
    with pytest.raises(VaultError, match="PRESAVE_PSEUDONYM_KEY"):
        TokenVault([Fernet.generate_key().decode()]).pseudonym("spotify", "fan-1")


def test_the_legacy_secret_keeps_the_fan_keys_derived_from_the_oldest_fernet_key() -> None:
    oldest = Fernet.generate_key().decode()
    legacy_key = hashlib.sha256(b"presave-pseudonym:" + oldest.encode()).digest()
    made_before = hmac.new(legacy_key, b"spotify\x1ffan-1", hashlib.sha256).hexdigest()[:32]
    vault = TokenVault([Fernet.generate_key().decode()], PseudonymKeys(f"{LEGACY_PREFIX}{oldest}"))
    assert vault.pseudonym("spotify", "fan-1") == made_before
    assert PseudonymKeys(f"{LEGACY_PREFIX}{oldest}").key("ip") != legacy_key


def test_is_current_tells_values_sealed_with_the_newest_key() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed = TokenVault([old]).seal("token")
    rotated = TokenVault([new, old])
    assert not rotated.is_current(sealed)
    assert rotated.is_current(rotated.reseal(sealed))
