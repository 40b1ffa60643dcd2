"""What a service module must provide (`services.owed.ServiceModule`), checked for every service: adding a
service is one module meeting it, listed in `services.catalog`, and its sandbox stand-in."""

from __future__ import annotations

import inspect
from types import ModuleType
from typing import Any

import pytest

from campaigns.campaign_file import parse_campaign
from campaigns.models import ActionKind
from campaigns.rules import SERVICES
from campaigns.settings import Settings
from services.catalog import SERVICE_MODULES, service_module
from services.owed import Due, GrantAction, ServiceModule

ALL_SERVICES = {
    "spotify": {"artist": "spotify:artist:0TnOYISbd1XYRBk9myaseg"},
    "apple": {"album_id": "1440857781"},
    "deezer": {"artist_id": "27"},
}
REQUIRED = [
    name
    for name, member in inspect.getmembers(ServiceModule)
    if not name.startswith("_") and inspect.isfunction(member)
]


def _spec(**services: Any) -> Any:
    return parse_campaign(
        {
            "slug": "midnight-drive",
            "artist": "Nova Lane",
            "title": "Midnight Drive",
            "upc": "198880045560",
            "release_at": "2026-12-04T00:00",
            "timezone": "Europe/London",
            "services": services,
        }
    )


def test_every_service_has_one_module_listed_in_the_services_order() -> None:
    assert list(SERVICE_MODULES) == [str(service) for service in SERVICES]


def test_what_a_service_module_must_provide_is_listed() -> None:
    assert (
        sorted(
            [
                "app_from_config",
                "app_from_settings",
                "fan_actions",
                "grant_actions",
                "grant_call",
                "owed_actions",
            ]
        )
        == REQUIRED
    )


@pytest.mark.parametrize("service", list(SERVICE_MODULES))
def test_each_service_module_provides_every_part_a_service_must(service: str) -> None:
    module = SERVICE_MODULES[service]
    assert isinstance(module, ModuleType)
    assert service == module.SERVICE
    for name in REQUIRED:
        provided = getattr(module, name, None)
        assert callable(provided), f"services.{service} has no {name}"
        wanted = [p for p in inspect.signature(getattr(ServiceModule, name)).parameters if p != "self"]
        assert list(inspect.signature(provided).parameters) == wanted, f"services.{service}.{name}"


@pytest.mark.parametrize("service", list(SERVICE_MODULES))
def test_a_service_left_unconfigured_has_no_app(service: str) -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert service_module(service).app_from_settings(settings) is None


def test_an_unknown_service_is_named_in_the_error() -> None:
    with pytest.raises(ValueError, match="'tidal'"):
        service_module("tidal")


@pytest.mark.parametrize("service", list(SERVICE_MODULES))
def test_a_service_the_campaign_does_not_offer_owes_nothing(service: str) -> None:
    others = {name: offer for name, offer in ALL_SERVICES.items() if name != service}
    module = SERVICE_MODULES[service]
    assert module.owed_actions(_spec(**others), None) == []
    assert module.grant_actions(_spec(**others)) == []


@pytest.mark.parametrize("service", list(SERVICE_MODULES))
def test_every_service_owes_the_release_saved_on_release_day(service: str) -> None:
    owed = SERVICE_MODULES[service].owed_actions(_spec(**ALL_SERVICES), None)
    assert (ActionKind.SAVE_RELEASE, "release", Due.AT_RELEASE) in owed


@pytest.mark.parametrize(
    ("service", "at_grant"),
    [
        ("spotify", [GrantAction("follow_artist", "spotify:artist:0TnOYISbd1XYRBk9myaseg")]),
        ("apple", [GrantAction("preadd", "1440857781")]),
        ("deezer", []),
    ],
)
def test_what_the_landing_app_does_while_the_fan_waits(service: str, at_grant: list[GrantAction]) -> None:
    assert SERVICE_MODULES[service].grant_actions(_spec(**ALL_SERVICES)) == at_grant


def test_each_services_app_offers_what_the_executor_and_the_shards_call() -> None:
    for module in SERVICE_MODULES.values():
        app_type = inspect.signature(module.app_from_config).return_annotation
        assert isinstance(app_type, str)
        app_class = getattr(module, app_type)
        for member in ("resolve", "close", "use_pacing", "pacing_key", "to_config"):
            assert hasattr(app_class, member), f"{app_class.__name__} has no {member}"
