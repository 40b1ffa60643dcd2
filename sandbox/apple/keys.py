"""The MusicKit signing key the sandbox trusts, and developer tokens: minting (for tests and the demo)
and checking (Apple's rules: ES256, `kid` the key id, `iss` the team id, `exp` at most six months ahead).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from sandbox.config import AppleConfig

P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
CLOCK_SKEW_S = 300


def private_key(seed: str) -> ec.EllipticCurvePrivateKey:
    """A P-256 key derived from `seed`, so every process that shares the configuration agrees on it."""
    scalar = int.from_bytes(hashlib.sha256(seed.encode()).digest(), "big") % (P256_ORDER - 1) + 1
    return ec.derive_private_key(scalar, ec.SECP256R1())


def private_key_pem(seed: str) -> bytes:
    """The key as Apple ships it in `AuthKey_<KEYID>.p8`: PKCS#8 PEM."""
    return private_key(seed).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def write_private_key(config: AppleConfig) -> Path:
    """Write the .p8 (mode 0600) where the project can read it; the same path for the same key."""
    pem = private_key_pem(config.key_seed)
    if config.private_key_path:
        path = Path(config.private_key_path)
    else:
        digest = hashlib.sha256(pem).hexdigest()[:12]
        path = Path(tempfile.gettempdir()) / "presave-sandbox" / f"AuthKey_{config.key_id}-{digest}.p8"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_bytes() != pem:
        draft = path.with_name(f".{path.name}.{os.getpid()}.draft")  # concurrent writers never share a draft
        draft.write_bytes(pem)
        draft.chmod(0o600)
        draft.replace(path)
    return path


def developer_token(
    config: AppleConfig,
    *,
    issued_at: float,
    lifetime_s: float = 3600,
    key_id: str | None = None,
    team_id: str | None = None,
    origin: list[str] | None = None,
    key_seed: str | None = None,
) -> str:
    claims: dict[str, object] = {
        "iss": team_id or config.team_id,
        "iat": int(issued_at),
        "exp": int(issued_at + lifetime_s),
    }
    if origin is not None:
        claims["origin"] = origin
    return jwt.encode(
        claims,
        private_key(key_seed or config.key_seed),
        algorithm="ES256",
        headers={"kid": key_id or config.key_id},
    )


@dataclass(frozen=True, slots=True)
class Developer:
    """A checked developer token: who it belongs to and until when it is good."""

    team_id: str
    key_id: str
    issued_at: float
    expires_at: float
    origins: tuple[str, ...] | None

    @property
    def client_id(self) -> str:
        return f"{self.team_id}.{self.key_id}"


class DeveloperTokenError(ValueError):
    """Why a developer token is refused (answered as 401)."""


class DeveloperTokens:
    """Checks tokens against the trusted key; a token's signature is verified once, then cached."""

    def __init__(self, config: AppleConfig) -> None:
        self.config = config
        self._public_key = private_key(config.key_seed).public_key()
        self._seen: dict[str, Developer] = {}

    def check(self, token: str, now: float, origin: str | None = None) -> Developer:
        developer = self._seen.get(token)
        if developer is None:
            developer = self._verify(token)
            if len(self._seen) > 10_000:
                self._seen.clear()
            self._seen[token] = developer
        if now >= developer.expires_at:
            raise DeveloperTokenError("developer token expired")
        if developer.expires_at - now > self.config.developer_token_max_age_s:
            raise DeveloperTokenError("exp is more than six months ahead")
        if developer.issued_at > now + CLOCK_SKEW_S:
            raise DeveloperTokenError("iat is in the future")
        if origin and developer.origins is not None and origin not in developer.origins:
            raise DeveloperTokenError(f"origin {origin} is not allowed by the developer token")
        return developer

    def _verify(self, token: str) -> Developer:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise DeveloperTokenError(f"not a JWT: {exc}") from None
        if header.get("alg") != "ES256":
            raise DeveloperTokenError("alg must be ES256")
        if header.get("kid") != self.config.key_id:
            raise DeveloperTokenError("unknown kid")
        try:
            claims = jwt.decode(
                token,
                self._public_key,
                algorithms=["ES256"],
                options={"verify_exp": False, "verify_iat": False, "require": ["iss", "iat", "exp"]},
            )
        except jwt.PyJWTError as exc:
            raise DeveloperTokenError(f"invalid token: {exc}") from None
        if claims["iss"] != self.config.team_id:
            raise DeveloperTokenError("unknown iss")
        issued, expires = claims["iat"], claims["exp"]
        if not isinstance(issued, int | float) or not isinstance(expires, int | float) or expires <= issued:
            raise DeveloperTokenError("iat and exp must be times, exp after iat")
        if expires - issued > self.config.developer_token_max_age_s:
            raise DeveloperTokenError("exp is more than six months after iat")
        origins = claims.get("origin")
        return Developer(
            team_id=claims["iss"],
            key_id=header["kid"],
            issued_at=float(issued),
            expires_at=float(expires),
            origins=tuple(origins) if isinstance(origins, list) else None,
        )
