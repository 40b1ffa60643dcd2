"""Authorizing a pre-save: the pre-save button, the OAuth return, and the MusicKit page's POST."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query
from starlette.requests import Request
from starlette.responses import Response

from collectors.landing import flows
from collectors.landing.guards import (
    CampaignDep,
    LandingDep,
    MusicKitCampaign,
    OAuthDep,
    PresaveService,
    RateLimited,
)

router = APIRouter(dependencies=[RateLimited])
Text = Annotated[str | None, Form(max_length=512)]


@router.get("/oauth/{service}/callback")
def callback(
    request: Request,
    landing: LandingDep,
    oauth: OAuthDep,
    state: Annotated[str, Query(max_length=512)] = "",
    code: Annotated[str | None, Query(max_length=2048)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
    error_reason: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    return flows.oauth_callback(landing, request, oauth, state, code, error or error_reason)


@router.get("/{slug}/connect/{service}")
def connect(request: Request, landing: LandingDep, view: CampaignDep, service: PresaveService) -> Response:
    return flows.connect(landing, request, view, service)


@router.post("/{slug}/connect/apple")
def musickit_token(
    request: Request,
    landing: LandingDep,
    view: MusicKitCampaign,
    state: Text = None,
    music_user_token: Annotated[str | None, Form(max_length=4096)] = None,
    error: Text = None,
) -> Response:
    return flows.apple_token(landing, request, view, state or "", music_user_token, error)
