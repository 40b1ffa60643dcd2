"""The service modules by name, in the one order (`campaigns.rules.SERVICES`): the only place that lists
them. Adding a service is one module meeting `services.owed.ServiceModule`, listed here, and its sandbox
stand-in."""

from __future__ import annotations

from typing import Any

from services import apple, deezer, spotify
from services.model import Tokens, TokenSink
from services.owed import FanActions, ServiceModule

SERVICE_MODULES: dict[str, ServiceModule] = {"spotify": spotify, "apple": apple, "deezer": deezer}


def service_module(service: str) -> ServiceModule:
    """The module of `service`; ValueError naming it when there is none."""
    module = SERVICE_MODULES.get(service)
    if module is None:
        raise ValueError(f"unknown service {service!r}")
    return module


def fan_actions(app: Any, tokens: Tokens, on_tokens: TokenSink) -> FanActions:
    """The executor's actions for one grant of `app`'s service."""
    return service_module(app.name).fan_actions(app, tokens, on_tokens)
