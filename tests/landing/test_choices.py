from __future__ import annotations

from datetime import UTC, datetime

import pytest

from campaigns.campaign_file import parse_campaign
from collectors.landing.choices import (
    DoneOffer,
    FormProblem,
    completed_choices,
    initial_choices,
    owed_at_release,
    read_done_form,
)

PLAYLIST = "spotify:playlist:37i9dQZF1DX0XUsuxWHRQd"
USER = "spotify:user:nova"
SPOTIFY = DoneOffer(
    "spotify", (PLAYLIST, USER), playlist_choice=True, new_playlist_name="Radar", email_field=False
)
APPLE = DoneOffer("apple", (), playlist_choice=False, new_playlist_name="Radar", email_field=True)


def _read(offer: DoneOffer = SPOTIFY, **fields: object):
    return read_done_form(
        offer,
        follows=list(fields.get("follows", [])),  # type: ignore[arg-type]
        playlist=fields.get("playlist"),  # type: ignore[arg-type]
        email_opt_in=fields.get("email_opt_in"),  # type: ignore[arg-type]
        email=fields.get("email"),  # type: ignore[arg-type]
    )


def test_kept_and_declined_follows_keep_the_offered_order() -> None:
    done = _read(follows=[USER])
    assert done.follows == (USER,)
    assert done.declined == (PLAYLIST,)
    assert _read(follows=[USER, PLAYLIST, USER]).follows == (PLAYLIST, USER)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"follows": ["spotify:artist:other"]}, "follow"),
        ({"playlist": "id:not a playlist"}, "playlist"),
        ({"playlist": "sideways"}, "playlist"),
        ({"email_opt_in": "maybe"}, "email_opt_in"),
    ],
)
def test_what_was_not_offered_is_refused_by_name(fields: dict, field: str) -> None:
    with pytest.raises(FormProblem) as problem:
        _read(**fields)
    assert problem.value.field == field


@pytest.mark.parametrize(
    ("value", "chosen"),
    [
        (None, None),
        ("none", None),
        ("new", {"new": "Radar"}),
        ("id:37i9dQZF1DX0XUsuxWHRQd", {"id": "37i9dQZF1DX0XUsuxWHRQd"}),
    ],
)
def test_the_playlist_choice(value: str | None, chosen: dict | None) -> None:
    assert _read(playlist=value).playlist == chosen


def test_no_playlist_choice_when_the_campaign_offers_none() -> None:
    with pytest.raises(FormProblem):
        _read(APPLE, playlist="new")


def test_the_email_box_is_optional_and_unticked_means_no() -> None:
    assert _read().email_opt_in is False
    assert _read(email_opt_in="yes").email_opt_in is True
    assert _read(email_opt_in="yes", email="ignored@example.com").email is None  # Spotify gives the address


@pytest.mark.parametrize(
    "address", [None, "", "not-an-email", "a@b", "x" * 250 + "@example.com", "a b@example.com"]
)
def test_an_apple_fan_who_opts_in_must_give_a_real_address(address: str | None) -> None:
    with pytest.raises(FormProblem) as problem:
        _read(APPLE, email_opt_in="yes", email=address)
    assert problem.value.field == "email"


def test_an_apple_address_is_kept_only_with_the_box_ticked() -> None:
    assert _read(APPLE, email_opt_in="yes", email=" amy@example.com ").email == "amy@example.com"
    assert _read(APPLE, email="amy@example.com").email is None


def _spec(**services: object):
    return parse_campaign(
        {
            "slug": "s",
            "artist": "A",
            "title": "T",
            "upc": "198880045560",
            "release_at": "2026-12-04T00:00",
            "timezone": "UTC",
            "services": services,
        }
    )


def test_a_new_grant_starts_empty_and_a_repeat_keeps_earlier_choices() -> None:
    spec = _spec(
        spotify={"artist": "spotify:artist:abc"}, apple={"album_id": "155"}, deezer={"artist_id": "27"}
    )
    first = initial_choices(spec, "spotify")
    assert first == {
        "v": 1,
        "artist": "spotify:artist:abc",
        "follows": [],
        "declined_follows": [],
        "playlist": None,
        "email_opt_in": False,
        "preadd": None,
        "completed_at": None,
    }
    chosen = completed_choices(
        first, _read(follows=[USER], playlist="new"), datetime(2026, 11, 1, tzinfo=UTC)
    )
    again = initial_choices(spec, "spotify", chosen)
    assert again["follows"] == [USER]
    assert again["playlist"] == {"new": "Radar"}
    assert initial_choices(spec, "apple")["preadd"] == "155"
    assert initial_choices(spec, "deezer")["artist"] == "27"


@pytest.mark.parametrize(
    ("service", "choices", "owed"),
    [
        ("spotify", {"playlist": None}, [("save_release", "release")]),
        ("spotify", {"playlist": {"id": "p1"}}, [("save_release", "release"), ("add_to_playlist", "p1")]),
        ("apple", {"preadd": "155", "playlist": {"new": "R"}}, [("add_to_playlist", "new:R")]),
        ("apple", {"preadd": None}, [("save_release", "release")]),
        ("deezer", {"artist": "27"}, [("save_release", "release"), ("follow_artist", "27")]),
    ],
)
def test_what_release_day_owes_a_grant(service: str, choices: dict, owed: list) -> None:
    assert owed_at_release(service, choices) == owed
