"""The dashboard's door: password hashes (argon2, bcrypt) and the refusal to serve the network openly."""

from __future__ import annotations

from pathlib import Path

import bcrypt
import pytest
from argon2 import PasswordHasher
from streamlit import config
from streamlit.testing.v1 import AppTest

from dashboards.login import is_loopback, password_matches

APP = str(Path(__file__).resolve().parents[2] / "dashboards" / "app.py")
ARGON2 = PasswordHasher().hash("open sesame")
BCRYPT = bcrypt.hashpw(b"open sesame", bcrypt.gensalt(rounds=4)).decode()


@pytest.mark.parametrize(
    ("password", "stored", "admitted"),
    [
        ("open sesame", ARGON2, True),
        ("open sesame", BCRYPT, True),
        ("Open sesame", ARGON2, False),
        ("open sesame ", BCRYPT, False),
        ("", ARGON2, False),
        ("open sesame", "open sesame", False),  # a plain password is not a hash
        ("open sesame", "$argon2id$broken", False),
    ],
    # the hashes are salted afresh at collection: stable ids keep xdist's workers agreeing on the tests
    ids=["argon2", "bcrypt", "other-case", "trailing-space", "empty", "plain-text", "broken-hash"],
)
def test_only_the_right_password_matches_the_hash(password: str, stored: str, admitted: bool) -> None:
    assert password_matches(password, stored) is admitted


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),  # noqa: S104 - what is refused
        ("", False),
        ("10.0.0.5", False),
    ],
)
def test_loopback_is_told_apart(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_listening_everywhere_without_a_login_shows_only_the_refusal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PRESAVE_DASHBOARD_PASSWORD_HASH", raising=False)
    monkeypatch.setattr("sys.argv", ["app.py", "--warehouse", str(tmp_path / "none.duckdb")])
    config.set_option("server.address", "")  # what a bare `streamlit run` does: every interface
    app = AppTest.from_file(APP, default_timeout=30).run()
    assert "PRESAVE_DASHBOARD_PASSWORD_HASH" in app.error[0].value
    assert not app.warning  # nothing of the dashboard itself


def test_with_a_password_hash_the_form_comes_first_and_refuses_a_wrong_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRESAVE_DASHBOARD_PASSWORD_HASH", ARGON2)
    monkeypatch.setattr("sys.argv", ["app.py", "--warehouse", str(tmp_path / "none.duckdb")])
    app = AppTest.from_file(APP, default_timeout=30).run()
    assert app.title[0].value == "presave: sign in"
    app.text_input[0].input("wrong").run()
    app.button[0].click().run()
    assert app.error[0].value == "Wrong password."
    assert not app.warning  # nothing of the dashboard (admission is tested in Chromium)


def test_started_without_a_snapshot_named_it_says_how_to_start_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PRESAVE_DASHBOARD_PASSWORD_HASH", raising=False)
    monkeypatch.setattr("sys.argv", ["app.py"])
    config.set_option("server.address", "127.0.0.1")
    app = AppTest.from_file(APP, default_timeout=30).run()
    assert "presave dashboard" in app.error[0].value
    assert not app.warning
