"""The dashboard's fixture warehouse: the pipeline tests' label world built by the real warehouse job,
plus a release day that went wrong for a few fans and visitors lost in Instagram's in-app browser (added
to the operational copies, then every mart rebuilt by its own SQL), and fans a development-mode Spotify app
turned to reminders, some of whom followed their release-day link."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from campaigns.settings import Settings
from pipelines.marts.assets import MARTS
from pipelines.marts.mart import rebuild
from pipelines.warehouse import Warehouse
from tests.pipelines.scenario import built_warehouse

TROUBLED = "midnight-drive"
FAILED = {"spotify": "grant lost: invalid_grant", "apple": "refused: 403 from the library endpoint"}
UNDELIVERABLE = 2
IN_APP_VISITORS, IN_APP_CHOOSERS, IN_APP_GRANTS = 30, 20, 4
REMINDERS, REMINDER_CLICKS = 40, 15  # Spotify reminder fans of the troubled campaign, and those who followed
TURNED_AWAY_AT = timedelta(days=2, minutes=1)  # before release: the first fan the app refused (then reminded)


def dashboard_warehouse(data_dir: Path) -> Settings:
    settings = built_warehouse(data_dir)
    with Warehouse(settings.warehouse_path).writer() as connection:
        _troubles(connection)
        _reminders(connection)
        for mart in MARTS:
            rebuild(connection, mart)
    return settings


def _troubles(connection) -> None:  # type: ignore[no-untyped-def]
    release = connection.execute("SELECT release_at FROM campaigns WHERE slug = ?", [TROUBLED]).fetchone()[0]
    first_id = connection.execute("SELECT coalesce(max(action_id), 0) + 1 FROM owed_actions").fetchone()[0]
    rows = [
        (service, "failed", reason, f"{service}-failed-fan-key-0123456789abcdef")
        for service, reason in FAILED.items()
    ] + [
        (
            "spotify",
            "undeliverable",
            "not found: the release is not on the service",
            f"undeliverable-{n}-key-abcdef",
        )
        for n in range(UNDELIVERABLE)
    ]
    for offset, (service, outcome, reason, fan_key) in enumerate(rows):
        connection.execute(
            "INSERT INTO owed_actions VALUES (?, ?, ?, ?, 'save_release', 'album', ?, ?, 5, NULL, ?)",
            [first_id + offset, TROUBLED, fan_key, service, release, outcome, reason],
        )
    first_event = connection.execute("SELECT coalesce(max(event_id), 0) + 1 FROM landing_events").fetchone()[
        0
    ]
    at = release - timedelta(days=3)
    events = []
    for visitor in range(IN_APP_VISITORS):
        kinds = ["visit"]
        if visitor < IN_APP_CHOOSERS:
            kinds.append("click")
        if visitor < IN_APP_GRANTS:
            kinds.append("grant")
        for kind in kinds:
            events.append((kind, f"in-app-visitor-{visitor}"))
    for offset, (kind, visitor) in enumerate(events):
        connection.execute(
            "INSERT INTO landing_events (event_id, campaign_slug, occurred_at, kind, service, visitor_key, "
            "utm_source, device_class, in_app_browser, country) VALUES (?, ?, ?, ?, ?, ?, 'instagram', 'mobile', "
            "'instagram', 'GB')",
            [first_event + offset, TROUBLED, at, kind, None if kind == "visit" else "spotify", visitor],
        )


def _reminders(connection) -> None:  # type: ignore[no-untyped-def]
    """Visitors offered only a reminder for Spotify (the app's places taken) who signed up, the first of
    them refused after authorizing (how the app learnt its cap), and the release-day clicks of some of
    them through the tracked link."""
    release = connection.execute("SELECT release_at FROM campaigns WHERE slug = ?", [TROUBLED]).fetchone()[0]
    first = connection.execute("SELECT coalesce(max(event_id), 0) + 1 FROM landing_events").fetchone()[0]
    event = (
        "INSERT INTO landing_events (event_id, campaign_slug, occurred_at, kind, service, visitor_key, fan_key, "
        "utm_source, country) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'GB')"
    )
    for fan in range(REMINDERS):
        at, fan_key, visitor = (
            release - timedelta(days=2, minutes=fan),
            f"reminder-fan-{fan}",
            f"r-visitor-{fan}",
        )
        connection.execute(
            "INSERT INTO reminders VALUES (?, 'spotify', ?, ?, 'spotify_full')", [TROUBLED, fan_key, at]
        )
        connection.execute(event, [first + 3 * fan, TROUBLED, at, "visit", None, visitor, None, "tiktok"])
        connection.execute(
            event, [first + 3 * fan + 1, TROUBLED, at, "reminder", "spotify", visitor, fan_key, "tiktok"]
        )
        if fan == 0:
            connection.execute(
                "INSERT INTO landing_events (event_id, campaign_slug, occurred_at, kind, service, visitor_key, "
                "detail) VALUES (?, ?, ?, 'error', 'spotify', ?, 'presave:user_not_registered')",
                [first + 3 * REMINDERS, TROUBLED, release - TURNED_AWAY_AT, visitor],
            )
        if fan < REMINDER_CLICKS:
            clicked = release + timedelta(hours=1, minutes=fan)
            connection.execute(
                event,
                [first + 3 * fan + 2, TROUBLED, clicked, "reminder_click", "spotify", None, fan_key, "email"],
            )
