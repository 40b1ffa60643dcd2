"""One client per streaming service, and what they share: the one error scheme, the HTTP stack, the pacing.

- `services.spotify.SpotifyApp` (through spotipy), `services.apple.AppleApp`, `services.deezer.DeezerApp`:
  the label's app for each service. Each owns its authorization (OAuth code exchange and refresh, or
  Apple's developer token), every call the project makes (the landing app's, the executor's, the
  snapshots'), pagination, its error parsing and its `pacer`. `app.fan(tokens)` acts for one fan.
- `services.errors`: `ServiceFailure` of one `Failure` kind (throttled with its Retry-After, quota spent,
  transient, unauthorized, forbidden, not found, refused) or `GrantLost`; both are `ServiceError`s.
- `services.http`: the HTTP session every client uses (one per thread, retries off).
- `services.pacing`: the app-wide pacing (a shared pause on Retry-After, AIMD on the rate).
- `services.model`: what the clients hand back (tokens, profile, release, artist statistics).
- `services.owed`: what each service module provides (`ServiceModule`): what a grant is owed, the call each
  action kind makes, what can be verified; `services.catalog` lists the service modules.

This package imports only `campaigns`; collectors, the executor and pipelines are its adapters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from campaigns.settings import Settings
from services.errors import Failure, GrantLost, ServiceError, ServiceFailure
from services.model import Lookup, Release
from services.pacing import PacingPolicy, PacingState, RateController

__all__ = [
    "Failure",
    "GrantLost",
    "ServiceApp",
    "ServiceError",
    "ServiceFailure",
    "apps_from_settings",
]


class ServiceApp(Protocol):
    """What every service's app offers whatever its API: a name, its pacing, the release lookup."""

    name: str
    pacing: PacingPolicy
    pacer: RateController

    @property
    def pacing_key(self) -> str:
        """The app as its service limits it: the key of its shared pacing."""
        ...

    def resolve(self, lookup: Lookup) -> Release | None:
        """The release if the service has it live now, else None; ServiceFailure if it cannot tell."""
        ...

    def close(self) -> None:
        """Close the HTTP sessions of every thread that called."""
        ...

    def use_pacing(
        self, policy: PacingPolicy | None = None, state: PacingState | None = None, *, share: float = 1.0
    ) -> None:
        """Pace this app by `policy`, its state in `state`, with `share` of the rate for this process."""
        ...


def apps_from_settings(
    settings: Settings,
    *,
    origin: str | None = None,
    upgrade: bool = True,
    on_error: Callable[[str, ValueError], None] | None = None,
) -> dict[str, ServiceApp]:
    """The configured services' apps by name (a service left unconfigured is absent), in the one order,
    each built by its module (`services.catalog`) and paced by the deployment's shared state
    (`services.shared_pacing`). `origin` limits Apple's developer token to the landing app's pages.
    Raises ValueError (naming the variable) for a configuration that cannot work, such as an unreadable
    Apple key; with `on_error`, that service is told there and left out instead."""
    from services.catalog import SERVICE_MODULES
    from services.shared_pacing import pacing_url, share_pacing

    apps: dict[str, ServiceApp] = {}
    for name, module in SERVICE_MODULES.items():
        try:
            app = module.app_from_settings(settings, origin=origin)
        except ValueError as exc:
            if on_error is None:
                raise
            on_error(name, exc)
            continue
        if app is not None:
            apps[name] = app
    share_pacing(apps.values(), pacing_url(settings), upgrade=upgrade)
    return apps
