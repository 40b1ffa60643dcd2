from __future__ import annotations

from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from services.apple import AppleKeyError, DeveloperToken, load_private_key, valid_user_token


def _write(path: Path, key: object) -> Path:
    path.write_bytes(
        key.private_bytes(  # type: ignore[attr-defined]
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return path


def test_the_developer_token_is_an_es256_jwt_apple_accepts(tmp_path: Path) -> None:
    key = load_private_key(
        _write(tmp_path / "AuthKey_ABCDE12345.p8", ec.generate_private_key(ec.SECP256R1()))
    )
    tokens = DeveloperToken("TEAM123456", "ABCDE12345", key, "https://presave.example")
    token = tokens.current(now=1_800_000_000)
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(
        token, key.public_key(), algorithms=["ES256"], options={"verify_exp": False, "verify_iat": False}
    )
    assert (header["alg"], header["kid"]) == ("ES256", "ABCDE12345")
    assert claims == {
        "iss": "TEAM123456",
        "iat": 1_800_000_000,
        "exp": 1_800_000_000 + 12 * 3600,
        "origin": ["https://presave.example"],
    }
    assert tokens.current(now=1_800_000_000 + 3600) == token  # cached
    assert tokens.current(now=1_800_000_000 + 11.5 * 3600) != token  # renewed before it ends


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (None, "No such file"),
        (b"not a key", "not a PEM private key"),
        ("rsa", "not a P-256"),
    ],
)
def test_a_bad_key_file_is_named_without_its_contents(tmp_path: Path, content: object, why: str) -> None:
    path = tmp_path / "AuthKey.p8"
    if content == "rsa":
        _write(path, rsa.generate_private_key(public_exponent=65537, key_size=2048))
    elif content is not None:
        path.write_bytes(content)  # type: ignore[arg-type]
    with pytest.raises(AppleKeyError) as error:
        load_private_key(path)
    assert why in str(error.value)
    assert str(path) in str(error.value)
    assert "BEGIN" not in str(error.value)


@pytest.mark.parametrize(
    ("token", "ok"),
    [
        ("Am" + "x" * 200, True),
        ("", False),
        (None, False),
        ("a b", False),
        ("x\n", False),
        ("x" * 5000, False),
    ],
)
def test_music_user_tokens_are_checked_before_use(token: str | None, ok: bool) -> None:
    assert valid_user_token(token) is ok
