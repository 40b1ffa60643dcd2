"""Erasing a fan's data: the page, the erase button, and the sign-in that proves which account is theirs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from starlette.requests import Request
from starlette.responses import Response

from collectors.landing import done, flows
from collectors.landing.guards import LandingDep, OAuthDep, PageLimited, RateLimited

router = APIRouter()
Text = Annotated[str | None, Form(max_length=512)]


@router.get("/forget", dependencies=[PageLimited])
def forget_page(request: Request, landing: LandingDep) -> Response:
    return done.forget_page(landing, request)


@router.post("/forget", dependencies=[PageLimited])
def erase(request: Request, landing: LandingDep, csrf: Text = None) -> Response:
    return done.erase(landing, request, csrf)


@router.get("/forget/connect/{service}", dependencies=[RateLimited])
def sign_in_to_forget(request: Request, landing: LandingDep, oauth: OAuthDep) -> Response:
    return flows.forget_connect(landing, request, oauth)
