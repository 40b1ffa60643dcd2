"""Release day: what happened to the owed actions hour by hour, how long fans waited for the release in
their library, which fans were not delivered and why (short keyed hashes only), and which grants' tokens
will not last until the release (fans to ask again)."""

from __future__ import annotations

import streamlit as st

from dashboards import charts, queries, view
from dashboards.queries import WarehouseReader
from dashboards.screens import headline

HEADING = "Release day"


CHECKED = (
    "release_outcomes",
    "release_hours",
    "release_waits",
    "release_undelivered",
    "token_health",
    "grants",
    "owed_actions",
)


def render(reader: WarehouseReader) -> None:
    picked = view.campaign_page(reader, HEADING)
    if picked is None:
        return
    slug, row = picked
    view.mark_failed_checks(reader, CHECKED, slug)
    services = [view.ALL, *view.get(reader, queries.ACTION_SERVICES, slug)["service"]]
    service = view.choose("Service", services, "service", lambda s: "all services" if s == view.ALL else s)
    headline.show(view.glossary(reader), row, ("presaves", "delivered_saves"))
    _tokens(reader, slug)
    outcomes = view.get(reader, queries.OUTCOMES, slug)
    if service != view.ALL and not outcomes.empty:
        outcomes = outcomes[outcomes["service"] == service]
    view.table(
        outcomes,
        f"{slug} outcomes",
        "No owed action for this campaign yet: they are planned when fans grant (imported campaigns have none).",
    )
    over_time = view.get(reader, queries.OUTCOMES_OVER_TIME, slug, service, service)
    view.plot(
        over_time, charts.outcomes_over_time, f"outcomes-{slug}-{service}", "No owed action to draw yet."
    )
    waits = view.get(reader, queries.TIME_TO_LIBRARY, slug, service, service)
    view.plot(
        waits,
        charts.time_to_library,
        f"waits-{slug}-{service}",
        "No action delivered yet: the time to library starts with the first delivery.",
    )
    st.header("Not delivered")
    reasons = view.get(reader, queries.UNDELIVERED_REASONS, slug, service, service)
    view.table(
        reasons, f"{slug} reasons not delivered", "Every action due so far was delivered or is still queued."
    )
    fans = view.get(reader, queries.UNDELIVERED_FANS, slug, service, service)
    if not fans.empty:
        st.caption("Fans appear as the first characters of their keyed hash (fan key), never by account.")
        view.table(fans, f"{slug} fans not delivered", "")


def _tokens(reader: WarehouseReader, slug: str) -> None:
    health = view.get(reader, queries.GRANT_HEALTH, slug)
    if health.empty:
        return
    lost = int(health["expired"].sum() + health["revoked"].sum())
    expiring = int(health["expiring_before_due"].sum())
    left, right = st.columns(2)
    left.metric(
        "fans to ask again",
        f"{lost + expiring:,}",
        f"{expiring:,} tokens expire before the release · {lost:,} expired or revoked",
        delta_color="off",
        delta_arrow="off",
        help="Spotify refresh tokens die six months after the grant; revoked or expired grants cannot be "
        "delivered. These fans must grant again.",
    )
    right.metric("grants still active", f"{int(health['active'].sum()):,}")
    view.table(health, f"{slug} token health", "")
