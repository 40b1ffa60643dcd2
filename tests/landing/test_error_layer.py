"""A crash in the landing app: one log line (exception type, request id), a plain 500 page, no SQL text."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from campaigns.settings import Settings
from campaigns.store import Store
from collectors.landing.app import create_app
from tests.conftest import PSEUDONYM_KEY


def test_a_database_error_logs_one_line_without_its_text(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path / "data",
        database_url=f"sqlite:///{tmp_path / 'presave.db'}",
        secret_key="x" * 43 + "=",
        pseudonym_key=PSEUDONYM_KEY,
    )
    store = Store.connect(settings.resolved_database_url)
    with store.engine.begin() as connection:
        connection.execute(text("PRAGMA foreign_keys=OFF"))
        connection.execute(text("DROP TABLE campaigns"))
    with caplog.at_level(logging.INFO), TestClient(create_app(settings, store)) as client:
        response = client.get("/ada-lovelace-at-example-com")
    assert response.status_code == 500
    assert "Something went wrong" in response.text
    request_id = response.headers["x-request-id"]
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert lines == [f"landing: request {request_id} failed: OperationalError"]
    server = [r for r in caplog.records if r.name != "httpx"]  # the test client logs its own requests
    everything = "\n".join(r.getMessage() + str(r.exc_info or "") for r in server)
    assert "SELECT" not in everything
    assert "ada-lovelace" not in everything
    store.dispose()


def test_every_response_carries_a_request_id(tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path / "data",
        pseudonym_key=PSEUDONYM_KEY,
    )
    with TestClient(create_app(settings)) as client:
        first, second = client.get("/healthz"), client.get("/healthz")
    assert len(first.headers["x-request-id"]) == 12
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
