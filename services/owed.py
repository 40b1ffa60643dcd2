"""What every service module (`services.spotify`, `services.apple`, `services.deezer`) offers about the
actions a grant is owed, and the shapes they share.

- `ServiceModule`: what a service module must provide (checked for every service by
  `tests/services/test_service_modules.py`): its app built from the settings or from a shard's config,
  what a grant is owed at grant time and on release day (`owed_actions`, each `PlannedAction` due at the grant or at
  the fan's release moment), what the landing app does while the fan waits (`grant_actions`, `grant_call`)
  and the executor's `FanActions` for one grant (the call each action kind makes, what can be verified
  and how).
- The landing app and the executor keep only their own policy: the landing app never waits inside a fan's
  request (its calls are paced: refused at once while the app is told to wait); the executor paces and
  retries each call itself.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from campaigns.campaign_file import CampaignSpec
from campaigns.choices import parse_choices
from campaigns.models import ActionKind
from campaigns.settings import Settings
from services.errors import Failure, ServiceFailure
from services.model import Release, Tokens, TokenSink
from services.playlists import FanPlaylists

RELEASE_TARGET = "release"  # resolved to the service's album at execution time
FOLLOWS = (ActionKind.FOLLOW_ARTIST, ActionKind.FOLLOW)
ResolvedNote = Callable[[str], None]  # records an intermediate result (a created playlist) before going on


class Due(enum.Enum):
    """When an owed action falls due: at the grant moment, or at the fan's release moment."""

    AT_GRANT = "grant"
    AT_RELEASE = "release"


class PlannedAction(NamedTuple):
    kind: str
    target: str
    due: Due


class OwedCall(Protocol):
    """An action to make: a ledger row (`campaigns.ledger.Claimed`) or a grant-time `GrantAction`."""

    @property
    def id(self) -> int: ...

    @property
    def kind(self) -> str: ...

    @property
    def target(self) -> str: ...

    @property
    def resolved_target(self) -> str | None: ...


@dataclass(frozen=True)
class GrantAction:
    """A call owed at grant time, made while the fan waits (ledger `kind` on `target`)."""

    kind: str
    target: str
    id: int = 0
    resolved_target: str | None = None


class FanActions(Protocol):
    """The executor acting for one grant on its service (one client, one worker thread)."""

    def perform(self, action: OwedCall, release: Release | None, note: ResolvedNote) -> str | None:
        """Do the action; returns what the target resolved to (album URI, playlist id) if anything.
        `note` records an intermediate result (a created playlist) before going on."""
        ...

    def verify(self, action: OwedCall, release: Release | None) -> bool:
        """Whether the action is already done at the service (after a crash or an unclear failure)."""
        ...

    def refresh(self) -> None:
        """Get a new access token now (after a 401); raises GrantLost if the grant is gone."""
        ...

    def checkable(self, action: OwedCall) -> bool:
        """Whether the grant can read back that the action is done (`verify`); where it cannot, or reading
        is pointless, an action that may have happened is sent again, which the service takes as a no-op."""
        ...

    def unconfirmed(self, action: OwedCall) -> bool:
        """Whether the service's answer to this action proves nothing, so it is checked (`verify`) right
        after: a follow the service may accept and silently ignore."""
        ...


class ServiceModule(Protocol):
    """What one service's module provides; adding a service is one such module and its sandbox stand-in."""

    SERVICE: str

    def app_from_settings(self, settings: Settings, *, origin: str | None = None) -> Any:
        """The label's app as configured, None when the service is off; ValueError (naming the variable)
        for a configuration that cannot work. `origin` limits what the app hands to a web page."""
        ...

    def app_from_config(self, config: dict[str, Any]) -> Any:
        """The app a shard process rebuilds from `app.to_config()`."""
        ...

    def owed_actions(self, spec: CampaignSpec, choices: Any) -> list[PlannedAction]:
        """What a grant of this service is owed, given the campaign and the fan's choices."""
        ...

    def grant_actions(self, spec: CampaignSpec) -> list[GrantAction]:
        """What the landing app does at once, while the fan waits, when they grant."""
        ...

    def grant_call(self, app: Any, tokens: Tokens, action: GrantAction) -> None:
        """Make one grant-time call (paced: refused at once while the app is told to wait)."""
        ...

    def fan_actions(self, app: Any, tokens: Tokens, on_tokens: TokenSink) -> FanActions:
        """The executor's actions for one grant; the executor paces each call itself."""
        ...


def resolved(release: Release | None, service: str) -> Release:
    """The release an action needs; until it is resolved on the service, NOT_FOUND (back to the queue)."""
    if release is None:
        raise ServiceFailure(
            Failure.NOT_FOUND, f"{service}: the release is not resolved yet", service=service
        )
    return release


def no_such(service: str, kind: str) -> ServiceFailure:
    return ServiceFailure(Failure.REFUSED, f"{service}: no such action as {kind!r}", service=service)


def playlist_owed(choices: Any) -> list[PlannedAction]:
    """The playlist action the fan chose, on any service: due at their release moment."""
    target = parse_choices(choices).playlist_target
    return [PlannedAction(ActionKind.ADD_TO_PLAYLIST, target, Due.AT_RELEASE)] if target else []


class BaseActions:
    """A fan's client and their playlist bookkeeping; `refresh` is the client's own. Each service's
    actions add `perform` and `verify` (and their own `checkable`, `unconfirmed` where they differ)."""

    def __init__(self, fan: Any, *, id_prefix: str = "") -> None:
        self.fan = fan
        self.playlists = FanPlaylists(fan, id_prefix=id_prefix)
        self.identified: Any = None  # the `services.model.Profile` an `identify` action read (`/me`)

    def identify(self) -> None:
        """The `identify` action: the fan's account, for the worker to give the grant (never stored in
        the ledger: it is personal data)."""
        self.identified = self.fan.me()

    def refresh(self) -> None:
        self.fan.refresh()

    def checkable(self, action: OwedCall) -> bool:
        return action.kind != ActionKind.IDENTIFY  # reading the profile again is harmless

    def unconfirmed(self, action: OwedCall) -> bool:  # noqa: ARG002 - the FanActions protocol's signature
        return False
