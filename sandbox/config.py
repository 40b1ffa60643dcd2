"""The sandbox's configuration: the simulated apps, token lifetimes, limits, faults and the clock.

Everything here can also be changed on a running sandbox (`PUT /sandbox/config` takes a partial document
merged into this one), so a test or a benchmark can turn a fault on between two steps.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

SIX_MONTHS_S = 15_778_800  # 182.6 days: half a Julian year, the refresh-token lifetime Spotify documents
APPLE_DEVELOPER_TOKEN_MAX_AGE_S = 15_777_000  # Apple's "no more than 6 months" for a developer token's exp


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class SpotifyApp(_Model):
    """One app registered in the Spotify developer dashboard."""

    client_id: str = "sandbox-spotify-client"
    client_secret: str = "sandbox-spotify-secret"  # noqa: S105 - a public, sandbox-only credential
    redirect_uris: list[str] = Field(
        default_factory=list,
        description="Exact redirect URIs allowed besides any loopback one (http://127.0.0.1:<port>/…, "
        "http://[::1]:<port>/…), which Spotify accepts on any port.",
    )
    dev_mode: bool | None = Field(
        default=None, description="Overrides `spotify.dev_mode` for this app when set."
    )
    dev_mode_users: list[str] | None = Field(
        default=None,
        description="The users allow-listed in the dashboard; None: the first five fans who authorize.",
    )
    rate_budget: int | None = Field(
        default=None, ge=1, description="Overrides `spotify.rate_budget` for this app when set."
    )
    developer_account: str = Field(
        default="sandbox-developer",
        description="The developer account that registered the app: its Client IDs share one quota.",
    )


RotationMode = Literal["always", "never", "sometimes"]
ArtistFollowMode = Literal["kept", "ignored", "rejected"]


class SpotifyConfig(_Model):
    apps: list[SpotifyApp] = Field(default_factory=lambda: [SpotifyApp()])
    access_token_lifetime_s: int = Field(default=3600, ge=1)
    refresh_token_lifetime_s: int = Field(
        default=SIX_MONTHS_S, ge=1, description="From the fan's grant; refreshing does not extend it."
    )
    authorization_code_lifetime_s: int = Field(default=600, ge=1)
    rotation: RotationMode = Field(
        default="sometimes", description="Whether a refresh returns a new refresh token."
    )
    rotation_share: float = Field(default=0.5, ge=0, le=1, description="For rotation=sometimes.")
    rotated_refresh_tokens_stay_valid: bool = Field(
        default=False, description="Whether a refresh token that was rotated away still works."
    )
    revocation_kills_access_tokens: bool = True
    dev_mode: bool = Field(
        default=False,
        description="Development-mode apps (post 2026-03-09): deprecated routes and fields removed, "
        "search limit 10, at most five users.",
    )
    dev_mode_user_cap: int = Field(default=5, ge=1)
    rate_budget: int = Field(default=5000, ge=1, description="Calls per app per rolling window.")
    rate_window_s: float = Field(default=30.0, gt=0)
    quota_calls: int | None = Field(
        default=None,
        ge=1,
        description="Web API calls per developer account per `quota_window_s`, across its Client IDs "
        "(Spotify's July 2026 quota); once spent, every call answers 429 QUOTA_EXCEEDED with a Retry-After "
        "until the window admits one again. None: no quota (extended-quota apps).",
    )
    quota_window_s: float = Field(default=86_400.0, gt=0, description="Spotify's is a rolling ~24 h.")
    library_full_share: float = Field(
        default=0.0, ge=0, le=1, description="Share of fans (chosen by seed) whose library is full."
    )
    library_artist_follow: ArtistFollowMode = Field(
        default="kept",
        description="What `PUT /me/library` does with `spotify:artist:` URIs, unconfirmed in 2026 "
        "(reference H): kept (followed), ignored (200, not followed; `GET /me/library/contains` says "
        "false), rejected (400, as some apps report).",
    )

    def app(self, client_id: str | None) -> SpotifyApp | None:
        for app in self.apps:
            if app.client_id == client_id:
                return app
        return None

    def app_dev_mode(self, app: SpotifyApp | None) -> bool:
        if app is not None and app.dev_mode is not None:
            return app.dev_mode
        return self.dev_mode


class AppleConfig(_Model):
    team_id: str = Field(default="SANDBOXTM1", min_length=10, max_length=10)
    key_id: str = Field(default="SANDBOXKY1", min_length=10, max_length=10)
    key_seed: str = Field(
        default="presave-sandbox-apple-key",
        description="The sandbox derives its MusicKit private key from this, so every process agrees.",
    )
    private_key_path: str | None = Field(
        default=None, description="Where `sandbox_env` writes the .p8; default: the system temp dir."
    )
    developer_token_max_age_s: int = APPLE_DEVELOPER_TOKEN_MAX_AGE_S
    storefront: str = "us"
    rate_budget: int = Field(default=3000, ge=1, description="Calls per developer token per window.")
    rate_window_s: float = Field(default=60.0, gt=0)
    subscribed_share: float = Field(
        default=1.0, ge=0, le=1, description="Share of simulated fans with an Apple Music subscription."
    )


class DeezerConfig(_Model):
    app_id: str = "100001"
    secret: str = "sandbox-deezer-secret"  # noqa: S105 - a public, sandbox-only credential
    redirect_uris: list[str] = Field(
        default_factory=list, description="Allowed besides loopback ones (Deezer checks the domain)."
    )
    token_lifetime_s: int = Field(default=3600, ge=1, description="0 is sent for offline_access grants.")
    quota_calls: int = Field(default=50, ge=1)
    quota_window_s: float = Field(default=5.0, gt=0)


class LatencyConfig(_Model):
    """Added latency: lognormal around `median_ms` with the given `p99_ms`; zero turns it off."""

    median_ms: float = Field(default=0.0, ge=0)
    p99_ms: float = Field(default=0.0, ge=0)


FaultedService = Literal["spotify", "spotify_accounts", "apple", "deezer"]
DEFAULT_FAULTED_SERVICES: tuple[FaultedService, ...] = ("spotify", "apple", "deezer")


class FaultConfig(_Model):
    """Faults injected into the services' APIs (not the admin routes), drawn from `seed`."""

    seed: int = 0
    services: list[FaultedService] = Field(default_factory=lambda: list(DEFAULT_FAULTED_SERVICES))
    latency: LatencyConfig = Field(default_factory=LatencyConfig)
    error_share: float = Field(default=0.0, ge=0, le=1, description="Share answered 500, 502 or 503.")
    error_statuses: list[int] = Field(default_factory=lambda: [500, 502, 503])
    drop_share: float = Field(default=0.0, ge=0, le=1, description="Share of connections closed unanswered.")
    slow_share: float = Field(default=0.0, ge=0, le=1, description="Share answered after `slow_s`.")
    slow_s: float = Field(default=30.0, ge=0)
    after_processing_share: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Of the dropped and slow calls, the share whose action was carried out anyway.",
    )
    revoke_share: float = Field(
        default=0.0, ge=0, le=1, description="Per user call: the fan revokes the app just before it."
    )
    throttle_share: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="Share answered 429 with a Retry-After of `throttle_retry_after_s` whatever the budget "
        "(the unexplained throttling seen at launches).",
    )
    throttle_retry_after_s: int = Field(default=1, ge=1)

    @field_validator("error_statuses")
    @classmethod
    def _server_errors(cls, statuses: list[int]) -> list[int]:
        if not statuses or any(not 500 <= s <= 599 for s in statuses):
            raise ValueError("error_statuses must be a non-empty list of 5xx statuses")
        return statuses


class InspectionConfig(_Model):
    call_log_limit: int = Field(
        default=200_000, ge=0, description="Calls kept in the log; counts by route are always kept."
    )
    record_bodies: bool = Field(
        default=False, description="Keep request and response bodies (tests validate them)."
    )


class SandboxConfig(_Model):
    seed: int = 0
    start_at: datetime | None = Field(
        default=None, description="Start the sandbox clock here (it then runs); None: the real time."
    )
    spotify: SpotifyConfig = Field(default_factory=SpotifyConfig)
    apple: AppleConfig = Field(default_factory=AppleConfig)
    deezer: DeezerConfig = Field(default_factory=DeezerConfig)
    faults: FaultConfig = Field(default_factory=FaultConfig)
    inspection: InspectionConfig = Field(default_factory=InspectionConfig)

    def merged(self, patch: dict[str, Any]) -> SandboxConfig:
        """A new configuration with `patch` merged in (objects merged key by key, lists replaced)."""
        return SandboxConfig.model_validate(_deep_merge(self.model_dump(mode="json"), patch))


def _deep_merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
