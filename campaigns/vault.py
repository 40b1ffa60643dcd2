"""The token vault: fans' tokens encrypted at rest (Fernet, with key rotation) and kept out of reprs.

Pseudonyms (`fan_key`, visitor keys), the daily IP hash and the landing app's signing keys come from a
separate secret (`PRESAVE_PSEUDONYM_KEY`), one derived key per purpose: rotating or retiring a Fernet key
changes none of them, and no pseudonym can be recomputed from another purpose's key.
"""

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


LEGACY_PREFIX = "fernet-legacy:"


class PseudonymKeys:
    """One key per purpose, derived (HMAC-SHA256) from the pseudonym secret.

    A secret written `fernet-legacy:<oldest Fernet key>` keeps the `fan_key`s of a deployment made before
    the pseudonym secret existed (they were derived from the oldest Fernet key); the other purposes get
    fresh derived keys either way.
    """

    PURPOSES = ("fan", "visitor", "ip", "session", "state")

    def __init__(self, secret: str) -> None:
        if not secret or len(secret) < 16:
            raise VaultError("the pseudonym secret is too short (at least 16 characters)")
        root = secret.encode()
        self._keys = {
            p: hmac.new(root, f"presave/{p}".encode(), hashlib.sha256).digest() for p in self.PURPOSES
        }
        if secret.startswith(LEGACY_PREFIX):
            legacy = secret.removeprefix(LEGACY_PREFIX).strip()
            self._keys["fan"] = hashlib.sha256(b"presave-pseudonym:" + legacy.encode()).digest()

    def key(self, purpose: str) -> bytes:
        return self._keys[purpose]

    def hexkey(self, purpose: str) -> str:
        """The key as text, for signers that take a string (itsdangerous)."""
        return self._keys[purpose].hex()

    def __repr__(self) -> str:
        return "PseudonymKeys(********)"


class TokenVault:
    """Seals with the newest key; opens with any key listed (newest first), so keys can rotate.

    `pseudonyms` is needed only by what hashes people (the landing app, the warehouse copies, ingest):
    without it, `pseudonym()` refuses rather than derive a key that a rotation would change.
    """

    def __init__(self, keys: list[str], pseudonyms: PseudonymKeys | None = None) -> None:
        if not keys:
            raise VaultError("the vault needs at least one key")
        try:
            self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])
        except ValueError as exc:
            raise VaultError(
                "a PRESAVE_SECRET_KEY entry is not a Fernet key (32 url-safe base64 bytes)"
            ) from exc
        self._newest = Fernet(keys[0].encode())
        self.pseudonyms = pseudonyms

    @classmethod
    def of(cls, keys: list[str], pseudonym_secret: str | None) -> TokenVault:
        """The one way a process builds its vault from its secrets: the Fernet keys (newest first) and,
        when it has one, the pseudonym secret (the run, its shard processes, the Dagster resource and
        the settings all come here)."""
        return cls(keys, PseudonymKeys(pseudonym_secret) if pseudonym_secret else None)

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

    def is_current(self, sealed: str) -> bool:
        """True when `sealed` opens with the newest key alone (nothing left to re-seal)."""
        try:
            self._newest.decrypt(sealed.encode())
        except InvalidToken:
            return False
        return True

    def pseudonym(self, *parts: str) -> str:
        """A keyed hash that stands for a fan in the warehouse (`fan_key`: stable, not reversible)."""
        return self._hash("fan", parts)

    def visitor_key(self, visitor_id: str) -> str:
        """The warehouse's stand-in for a visitor cookie id (its own key: not joinable with `fan_key`)."""
        return self._hash("visitor", (visitor_id,))

    def _hash(self, purpose: str, parts: tuple[str, ...]) -> str:
        if self.pseudonyms is None:
            raise VaultError("this vault has no pseudonym key (PRESAVE_PSEUDONYM_KEY)")
        message = "\x1f".join(parts).encode()
        return hmac.new(self.pseudonyms.key(purpose), message, hashlib.sha256).hexdigest()[:32]

    def __repr__(self) -> str:
        return "TokenVault(keys=********)"
