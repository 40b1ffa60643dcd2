"""What the landing app needs of each streaming service, whatever its API: the connector protocols.

- `Connector` (every service): the extra follows the fan keeps on the done page, the fan's playlists, the
  display name of what the page offers to follow. What a grant is owed at once, and the call each action
  makes, are the service module's (`services.owed.ServiceModule`: `grant_actions`, `grant_call`).
- `OAuthConnector` (Spotify, Deezer): starting an authorization, exchanging the code, reading the profile.
- `AppleConnect` (Apple Music) has no OAuth: MusicKit JS hands the page the fan's token (its own module).

`Connectors` holds the configured ones by service; the routes and flows ask it, never a service's name.
Each connector is a thin adapter over the service's client in `services/`, whose one error scheme
(`services.errors.ServiceError`: a short `code` safe to store, `refused` when the fan's input was refused)
the landing app reads as it comes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from services.errors import Failure, ServiceFailure
from services.model import FanPlaylist, Profile, Tokens

if TYPE_CHECKING:
    from collectors.landing.apple import AppleConnect
    from collectors.landing.page import CampaignView

Purpose = Literal["presave", "email", "forget"]


@dataclass(frozen=True)
class Authorization:
    """An authorization about to start: the PKCE verifier kept with its state (None without PKCE), the
    challenge sent with it, the scopes asked for, and what the pending authorization remembers to finish
    the exchange (Deezer's permissions)."""

    verifier: str | None
    challenge: str
    scopes: tuple[str, ...]
    remembered: Mapping[str, str] = field(default_factory=dict)


class Connector(Protocol):
    service: str
    app: Any  # the service's app; what a grant is owed and its calls are the service module's

    def follow(self, tokens: Tokens, targets: Sequence[str]) -> None:
        """The extra follows the fan kept ticked on the done page."""
        ...

    def playlists(self, tokens: Tokens, user_id: str) -> list[FanPlaylist]:
        """The fan's playlists the release may be added to."""
        ...

    def entity_name(self, tokens: Tokens, uri: str) -> str | None:
        """The display name of something the done page offers to follow; None when unknown."""
        ...

    def close(self) -> None:
        """Close the HTTP sessions the connector's client opened."""
        ...


class OAuthConnector(Connector, Protocol):
    redirect_uri: str

    def start(self, purpose: Purpose, view: CampaignView | None) -> Authorization:
        """The least scopes this purpose needs (`view` is None for `forget`)."""
        ...

    def authorize_url(self, state: str, authorization: Authorization) -> str:
        """The service's consent page for this state."""
        ...

    def exchange(self, code: str, verifier: str | None, remembered: Mapping[str, Any]) -> Tokens:
        """Exchange the code for the fan's tokens; a ServiceError (`refused`: what the fan brought)."""
        ...

    def profile(self, tokens: Tokens) -> Profile:
        """The fan's account (`/me`): id, country, email when the scope allows; a ServiceError."""
        ...


class NoExtraCalls:
    """The done-page calls for a service that offers none of them (no extra follows, no entity names)."""

    service: str

    def follow(self, tokens: Tokens, targets: Sequence[str]) -> None:  # noqa: ARG002 - the Connector protocol's signature
        if targets:
            raise ServiceFailure(
                Failure.REFUSED, f"{self.service}: no extra follows", service=self.service, code="unsupported"
            )

    def entity_name(self, tokens: Tokens, uri: str) -> str | None:  # noqa: ARG002 - the Connector protocol's signature
        return None


class Connectors:
    """The configured services' connectors: the OAuth ones by name, and Apple's MusicKit one."""

    def __init__(self, oauth: Sequence[OAuthConnector], apple: AppleConnect | None) -> None:
        self._oauth = {connector.service: connector for connector in oauth}
        self.apple = apple
        self._all: dict[str, Connector] = {**self._oauth, **({"apple": apple} if apple else {})}

    def __iter__(self) -> Iterator[Connector]:
        return iter(self._all.values())

    @property
    def configured(self) -> frozenset[str]:
        return frozenset(self._all)

    def get(self, service: str) -> Connector | None:
        return self._all.get(service)

    def oauth(self, service: str) -> OAuthConnector | None:
        return self._oauth.get(service)

    def close(self) -> None:
        for connector in self:
            connector.close()

    @property
    def oauth_services(self) -> tuple[str, ...]:
        """The services a fan signs in to (to pre-save, share an email, or be forgotten)."""
        return tuple(self._oauth)
