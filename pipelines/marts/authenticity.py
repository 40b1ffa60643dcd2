"""Signs of inflated pre-saves, per campaign, with a score and its reasons in words.

Per pre-save: the IP hash and device class of its grant event, seconds on the page (from the visitor's
first visit to the grant), and its country; imported fans bring only their country. The artist's
audience by country comes from the DistroKid bank report (quantities over every store and month, the
artist matched by name); the audience size is the larger of the followers at release and the sum of the
daily Spotify listeners over the 28 days before release (larger than the monthly unique listeners, so
the check errs towards not warning). A sign whose data is missing, or covers fewer than 90% of the
pre-saves (visitors before the landing recorded IP hashes), is not evaluated and is listed in
`not_checked` (with its coverage); with no sign evaluated the campaign has no score and the status
'not checked (no data)'; 'no warning sign' only when all five were checked, else 'no warning sign in the
3 of 5 signs checked': a sign not checked is never reported as absent. See
`pipelines/analysis/authenticity.py` for each sign's test and the score.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from pipelines.analysis.authenticity import authenticity_report
from pipelines.marts.lift import FOLLOWERS_AT_RELEASE
from pipelines.marts.mart import Mart, artist_key, frame

GRANTS = """
WITH grant_events AS (
    SELECT campaign_slug, service, fan_key,
           arg_min(ip_hash, occurred_at) AS ip_hash,
           arg_min(device_class, occurred_at) AS device_class,
           arg_min(visitor_key, occurred_at) AS visitor_key,
           min(occurred_at) AS granted_event_at
    FROM landing_events WHERE kind = 'grant' AND fan_key IS NOT NULL
    GROUP BY ALL
),
first_visits AS (
    SELECT campaign_slug, visitor_key, min(occurred_at) AS visited_at
    FROM landing_events WHERE kind = 'visit' AND visitor_key IS NOT NULL
    GROUP BY ALL
)
SELECT p.campaign_slug AS campaign, p.presaved_at AS granted_at, p.country,
       e.ip_hash, e.device_class,
       epoch(e.granted_event_at - v.visited_at) AS seconds_on_page
FROM presaves p
LEFT JOIN grant_events e USING (campaign_slug, service, fan_key)
LEFT JOIN first_visits v ON v.campaign_slug = p.campaign_slug AND v.visitor_key = e.visitor_key
"""

AUDIENCE_COUNTRIES = f"""
SELECT r.campaign_slug AS campaign, d.country, sum(greatest(d.quantity, 0)) AS listeners
FROM campaign_releases r
JOIN distrokid_bank d ON {artist_key("d.artist")} = {artist_key("r.artist")}
WHERE d.country IS NOT NULL
GROUP BY ALL
HAVING sum(greatest(d.quantity, 0)) > 0
"""

AUDIENCE_LISTENERS = f"""
SELECT r.campaign_slug AS campaign, sum(t.listeners) AS listeners_28d
FROM campaign_releases r
JOIN s4a_audience_timeline t
  ON {artist_key("t.artist")} = {artist_key("r.artist")} AND t.date BETWEEN r.release_date - 28 AND r.release_date - 1
GROUP BY ALL
"""

SIGN_COLUMNS = {
    "IP hash burst": "ip_burst_grants",
    "device class burst": "device_burst_grants",
    "no time on page": "no_time_on_page_grants",
    "countries outside the audience": "foreign_country_grants",
    "pre-saves beyond the audience": "audience_excess",
}


def audience_sizes(connection: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    followers = frame(connection, FOLLOWERS_AT_RELEASE).set_index("campaign")["followers_at_release"]
    listeners = frame(connection, AUDIENCE_LISTENERS).set_index("campaign")["listeners_28d"]
    sizes = pd.concat([followers.rename("followers"), listeners.rename("listeners")], axis=1).astype(float)
    sizes = sizes[sizes.notna().any(axis=1)]
    sizes["audience_size"] = sizes.max(axis=1)
    sizes["audience_source"] = (
        sizes[["followers", "listeners"]]
        .idxmax(axis=1)
        .map({"followers": "followers at release", "listeners": "Spotify listeners, 28 days before release"})
    )
    return sizes


NOT_CHECKED = "not checked (no data)"
NO_SIGN = "no warning sign"
WARNING = "warning signs"


COVERAGE = 0.9  # a sign is checked when its data covers at least this share of the campaign's pre-saves


def checkable(
    grants: pd.DataFrame, countries: dict[str, float] | None, size: float | None
) -> tuple[pd.DataFrame, list[str]]:
    """The grants' columns that hold data for (nearly) every pre-save (a sign is checked only then), and
    the signs left unchecked; a sign with data on too few pre-saves says on how many."""
    unchecked = []
    keep = ["granted_at"]
    for column, sign in (
        ("ip_hash", "IP hash burst"),
        ("device_class", "device class burst"),
        ("seconds_on_page", "no time on page"),
        ("country", "countries outside the audience"),
    ):
        known = int(grants[column].notna().sum())
        if column == "country" and not countries:
            unchecked.append(sign)
        elif known >= COVERAGE * len(grants) and known:
            keep.append(column)
        else:
            unchecked.append(sign if not known else f"{sign} (data on {known} of {len(grants)} pre-saves)")
    if size is None:
        unchecked.append("pre-saves beyond the audience")
    return grants[keep], unchecked


def status(score: float | None, checked_signs: int) -> str:
    """'no warning sign' only when every sign was checked: a sign not checked is not a sign absent."""
    if checked_signs == 0 or score is None:
        return NOT_CHECKED
    if score < 1:
        return WARNING
    if checked_signs < len(SIGN_COLUMNS):
        return f"{NO_SIGN} in the {checked_signs} of {len(SIGN_COLUMNS)} signs checked"
    return NO_SIGN


def authenticity_scores(connection: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    grants = frame(connection, GRANTS)
    countries = frame(connection, AUDIENCE_COUNTRIES)
    by_country = {
        str(campaign): dict(zip(part["country"], part["listeners"].astype(float), strict=True))
        for campaign, part in countries.groupby("campaign")
    }
    sizes = audience_sizes(connection)
    rows = []
    for campaign, part in grants.groupby("campaign", sort=True):
        size = sizes["audience_size"].get(campaign)
        size = None if size is None or pd.isna(size) else float(size)
        audience = by_country.get(str(campaign))
        usable, unchecked = checkable(part.reset_index(drop=True), audience, size)
        report = authenticity_report(usable, audience_countries=audience, audience_size=size)
        checked = len(SIGN_COLUMNS) - len(unchecked)
        row: dict[str, object] = {
            "campaign_slug": campaign,
            "grants": report.grants,
            "score": report.score if checked else None,
            "reasons": "\n".join(report.reasons),
            "audience_size": size,
            "audience_source": sizes["audience_source"].get(campaign),
            "status": status(report.score, checked),
            "not_checked": ", ".join(unchecked),
            "signs_checked": checked,
        }
        row.update(dict.fromkeys(SIGN_COLUMNS.values(), 0.0))
        for sign in report.signs:
            row[SIGN_COLUMNS[sign.name]] = float(sign.implicated)
        rows.append(row)
    columns = [
        "campaign_slug",
        "grants",
        "score",
        "reasons",
        *SIGN_COLUMNS.values(),
        "audience_size",
        "audience_source",
        "status",
        "not_checked",
        "signs_checked",
    ]
    return pd.DataFrame(rows, columns=columns)


MARTS = (
    Mart(
        "authenticity_scores",
        ("presaves", "landing_events", "distrokid_bank", "s4a_audience_timeline", "artist_snapshots"),
        authenticity_scores,
        "Grants implicated by each sign (bursts from one IP hash or device class: binomial test against "
        "the key's share, Bonferroni; no time on the page; countries under 0.1% of the artist's audience; "
        "pre-saves beyond half the audience), the score Π(1 − share implicated) over the signs checked, "
        "and the status: 'not checked (no data)' (no score) when no sign had its data, 'no warning sign', "
        "or 'warning signs'; `not_checked` lists the signs without data.",
        expect_rows="SELECT EXISTS (SELECT 1 FROM presaves)",
    ),
)
