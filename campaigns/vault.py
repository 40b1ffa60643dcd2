"""The token vault: fans' tokens encrypted at rest (Fernet, with key rotation) and kept out of reprs."""

from __future__ import annotations

import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class VaultError(RuntimeError):
    """A sealed value could not be opened; the message never contains the value."""


class Secret:
    """A plaintext secret that refuses to show itself in a repr, a str or a log line."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and hmac.compare_digest(self._value, other._value)

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a Secret is not picklable")


class TokenVault:
    """Seals with the newest key; opens with any key listed (newest first), so keys can rotate."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise VaultError("the vault needs at least one key")
        try:
            self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])
        except ValueError as exc:
            raise VaultError(
                "a PRESAVE_SECRET_KEY entry is not a Fernet key (32 url-safe base64 bytes)"
            ) from exc
        # Pseudonyms must stay stable across rotation, so they use a key derived from the oldest one.
        self._pseudonym_key = hashlib.sha256(b"presave-pseudonym:" + keys[-1].encode()).digest()

    def seal(self, secret: Secret | str) -> str:
        plain = secret.reveal() if isinstance(secret, Secret) else secret
        return self._fernet.encrypt(plain.encode()).decode()

    def open(self, sealed: str) -> Secret:
        try:
            return Secret(self._fernet.decrypt(sealed.encode()).decode())
        except InvalidToken:
            raise VaultError("a sealed token could not be opened with any configured key") from None

    def reseal(self, sealed: str) -> str:
        """Re-encrypt under the newest key (key rotation)."""
        try:
            return self._fernet.rotate(sealed.encode()).decode()
        except InvalidToken:
            raise VaultError("a sealed token could not be opened with any configured key") from None

    def pseudonym(self, *parts: str) -> str:
        """A keyed hash that stands for a person in the warehouse (stable, not reversible)."""
        message = "\x1f".join(parts).encode()
        return hmac.new(self._pseudonym_key, message, hashlib.sha256).hexdigest()[:32]

    def __repr__(self) -> str:
        return "TokenVault(keys=********)"
