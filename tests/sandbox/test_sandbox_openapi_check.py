"""The spec check itself finds what it should (a check that cannot fail would prove nothing)."""

from __future__ import annotations

import json

from tests.sandbox.openapi import check_calls


def call(method: str, path: str, status: int, body: object = None, query: str = "") -> dict[str, object]:
    return {
        "service": "spotify",
        "method": method,
        "path": f"/spotify/v1{path}",
        "query": query,
        "status": status,
        "response_type": "application/json; charset=utf-8",
        "response_body": "" if body is None else json.dumps(body),
    }


def test_unknown_operation_is_reported() -> None:
    assert check_calls([call("PUT", "/me/albums/everything", 200)], responses=False)
    assert not check_calls([call("PUT", "/me/library/", 200)], responses=False)


def test_search_limit_above_the_spec_is_reported_when_parameters_are_checked() -> None:
    searching = call("GET", "/search", 200, query="q=upc%3A1&type=album&limit=20")
    assert not check_calls([searching], responses=False)
    assert any("limit" in p for p in check_calls([searching], responses=False, check_params=True))


def test_malformed_bodies_are_reported() -> None:
    no_message = call("GET", "/albums/4aawyAB9vmqN3uQ7FjRGTy", 404, {"error": {"status": 404}})
    assert any("message" in p for p in check_calls([no_message]))
    album_without_name = call(
        "GET",
        "/albums/4aawyAB9vmqN3uQ7FjRGTy",
        200,
        {"album_type": "album", "total_tracks": 1, "id": "x", "type": "album"},
    )
    assert check_calls([album_without_name])
    body_where_none = call("PUT", "/me/library", 200, {"ok": True}, query="uris=spotify%3Aalbum%3Ax")
    assert check_calls([body_where_none])


def test_undeclared_success_status_is_reported() -> None:
    assert check_calls([call("PUT", "/me/following", 200, query="type=artist&ids=x")])
