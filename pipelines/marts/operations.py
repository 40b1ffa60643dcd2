"""What the release-day and data pages show: each owed action's path to the library, the landing funnel's
in-app-browser loss, and how fresh each source of the warehouse is.

Fans appear only as the first twelve characters of their keyed hash (`fan`): enough to tell two fans
apart on a page and to find one in the ledger, nothing that leads back to a service account.

In-app browsers (Instagram, TikTok, Facebook…) often cannot complete a service's login: a visitor who chose
a service there and did not grant it is lost to the in-app browser. The loss is the conversion of visitors
in ordinary browsers minus that of visitors in in-app ones, per campaign and source.
"""

from __future__ import annotations

from campaigns.models import OUTCOME_LABELS
from pipelines.marts.mart import Mart, artist_key

_LABELS = " ".join(f"WHEN '{outcome}' THEN '{label}'" for outcome, label in OUTCOME_LABELS.items())
RELEASE_ACTIONS = f"""
SELECT campaign_slug, service, kind, outcome, CASE outcome {_LABELS} ELSE outcome END AS outcome_label,
       left(fan_key, 12) AS fan, due_at, done_at,
       CASE WHEN outcome = 'delivered' THEN epoch(done_at - due_at) END AS seconds_to_library,
       attempts, reason
FROM owed_actions
"""

# What the release-day page draws, counted here once instead of over every owed action at each view.
RELEASE_HOURS = """
SELECT campaign_slug, service, date_trunc('hour', coalesce(done_at, due_at)) AS hour, outcome_label AS outcome,
       count(*) AS actions
FROM release_actions GROUP BY ALL
"""

RELEASE_WAITS = """
SELECT campaign_slug, service, floor(log10(greatest(seconds_to_library, 1)) * 4) / 4 AS log_bucket,
       count(*) AS actions
FROM release_actions WHERE seconds_to_library IS NOT NULL GROUP BY ALL
"""

RELEASE_UNDELIVERED = """
SELECT campaign_slug, service, kind, outcome_label AS outcome, fan, due_at, attempts,
       coalesce(reason, '(no reason given)') AS reason
FROM release_actions WHERE outcome IN ('failed', 'undeliverable', 'ignored')
"""

_CHOICE_KINDS = "('click', 'authorize_start', 'grant', 'denial', 'error')"

FUNNEL_BROWSERS = f"""
WITH visitors AS (
    SELECT campaign_slug, visitor_key,
           coalesce(arg_min(nullif(lower(trim(utm_source)), ''), occurred_at)
               FILTER (WHERE nullif(trim(utm_source), '') IS NOT NULL), '(direct)') AS source,
           coalesce(arg_min(in_app_browser, occurred_at) FILTER (WHERE in_app_browser IS NOT NULL), '(none)')
               AS in_app_browser,
           bool_or(kind IN {_CHOICE_KINDS} AND service IS NOT NULL) AS chose,
           bool_or(kind = 'grant') AS granted
    FROM landing_events WHERE visitor_key IS NOT NULL
    GROUP BY ALL
),
sources AS (
    SELECT campaign_slug, source, in_app_browser, count(*) AS visitors,
           count(*) FILTER (WHERE chose) AS choosers, count(*) FILTER (WHERE granted) AS grants
    FROM visitors GROUP BY ALL
    UNION ALL
    SELECT campaign_slug, '(all)', in_app_browser, count(*), count(*) FILTER (WHERE chose),
           count(*) FILTER (WHERE granted)
    FROM visitors GROUP BY ALL
),
ordinary AS (
    SELECT campaign_slug, source, sum(grants) / nullif(sum(choosers), 0) AS rate
    FROM sources WHERE in_app_browser = '(none)' GROUP BY ALL
)
SELECT s.campaign_slug, s.source, s.in_app_browser, s.visitors, s.choosers, s.grants,
       s.grants / nullif(s.choosers, 0) AS rate,
       CASE WHEN s.in_app_browser <> '(none)' THEN o.rate - s.grants / nullif(s.choosers, 0) END AS loss
FROM sources s LEFT JOIN ordinary o USING (campaign_slug, source)
"""

SOURCE_FRESHNESS = """
WITH latest AS (
    SELECT 'export: ' || kind AS source, count(*) AS files, sum(rows) AS rows, max(as_of) AS data_until,
           max(loaded_at) AS updated_at
    FROM loaded_files GROUP BY kind
    UNION ALL
    SELECT 'landing events', NULL, count(*), max(occurred_at)::DATE, max(occurred_at) FROM landing_events
    UNION ALL
    SELECT 'grants', NULL, count(*), max(granted_at)::DATE, max(granted_at) FROM grants
    UNION ALL
    SELECT 'release-day ledger', NULL, count(*), max(done_at)::DATE, max(done_at) FROM owed_actions
    UNION ALL
    SELECT 'artist snapshots (' || service || ')', NULL, count(*), max(snapshot_date), max(fetched_at)
    FROM artist_snapshots GROUP BY service
)
SELECT source, files, rows, data_until, updated_at,
       date_diff('day', data_until, current_date) AS days_behind
FROM latest WHERE rows > 0
"""

CAMPAIGN_FOLLOWERS = f"""
SELECT r.campaign_slug, t.date, 'spotify' AS service, 'Spotify for Artists' AS origin, t.followers,
       NULL::INTEGER AS popularity, 'available' AS followers_status, 'not in this export' AS popularity_status
FROM campaign_releases r
JOIN s4a_audience_timeline t ON {artist_key("t.artist")} = {artist_key("r.artist")}
WHERE t.date BETWEEN r.release_date - 56 AND r.release_date + 13 AND t.followers IS NOT NULL
UNION ALL
SELECT r.campaign_slug, a.snapshot_date, a.service, a.service || ' API', a.followers, a.popularity,
       a.followers_status, a.popularity_status
FROM campaign_releases r
JOIN artist_snapshots a
  ON (a.service = 'spotify' AND a.artist_id = r.spotify_artist_id)
  OR (a.service = 'deezer' AND a.artist_id = r.deezer_artist_id)
WHERE a.snapshot_date BETWEEN r.release_date - 56 AND greatest(r.release_date + 13, current_date)
"""

# Rows are expected once a campaign's artist has a follower series (matched by name or service id, any
# day) and the campaign's eight weeks before release have begun: a broken match then shows as no rows.
CAMPAIGN_FOLLOWERS_INPUTS = f"""
SELECT EXISTS (
    SELECT 1 FROM campaign_releases r
    WHERE r.release_date - 56 <= current_date AND (
        EXISTS (SELECT 1 FROM s4a_audience_timeline t
                WHERE t.followers IS NOT NULL AND {artist_key("t.artist")} = {artist_key("r.artist")})
        OR EXISTS (SELECT 1 FROM artist_snapshots a
                   WHERE (a.service = 'spotify' AND a.artist_id = r.spotify_artist_id)
                      OR (a.service = 'deezer' AND a.artist_id = r.deezer_artist_id))
    )
)
"""

MARTS = (
    Mart(
        "release_actions",
        ("owed_actions",),
        lambda _: RELEASE_ACTIONS,
        "Each owed action with its outcome, the fan's short keyed hash, the seconds from due moment to "
        "library (delivered ones) and the reason a failed, undeliverable or ignored one gives; "
        "outcome_label names it for people (an artist follow the service did not keep: 'ignored by "
        "the service', never delivered).",
        expect_rows="SELECT EXISTS (SELECT 1 FROM owed_actions)",
    ),
    Mart(
        "release_hours",
        ("release_actions",),
        lambda _: RELEASE_HOURS,
        "Owed actions counted per campaign, service, outcome and hour (UTC) of their last move: when done, "
        "else when due.",
        expect_rows="SELECT EXISTS (SELECT 1 FROM release_actions)",
    ),
    Mart(
        "release_waits",
        ("release_actions",),
        lambda _: RELEASE_WAITS,
        "Delivered actions counted per campaign, service and quarter-decade of log10 seconds from due "
        "moment to library (0 = a second or less, 2 = 100 s, 3.5 ≈ 53 min).",
        expect_rows="SELECT EXISTS (SELECT 1 FROM release_actions WHERE seconds_to_library IS NOT NULL)",
    ),
    Mart(
        "release_undelivered",
        ("release_actions",),
        lambda _: RELEASE_UNDELIVERED,
        "The owed actions that failed, were undeliverable or were ignored by the service (outcome as people name it), with the fan's short keyed hash and the reason "
        "given ('(no reason given)' when none).",
        expect_rows="SELECT EXISTS (SELECT 1 FROM release_actions "
        "WHERE outcome IN ('failed', 'undeliverable', 'ignored'))",
    ),
    Mart(
        "funnel_browsers",
        ("landing_events",),
        lambda _: FUNNEL_BROWSERS,
        "Distinct visitors per campaign, first traffic source (and all sources) and in-app browser "
        "('(none)': an ordinary browser): how many chose a service and granted one, the rate among those "
        "who chose, and the in-app loss (ordinary browsers' rate − this browser's).",
        expect_rows="SELECT EXISTS (SELECT 1 FROM landing_events WHERE visitor_key IS NOT NULL)",
    ),
    Mart(
        "source_freshness",
        ("loaded_files", "landing_events", "grants", "owed_actions", "artist_snapshots"),
        lambda _: SOURCE_FRESHNESS,
        "Each source of the warehouse (each export kind, landing events, grants, the ledger, artist "
        "snapshots per service): rows, the last day its data covers, when it last changed, and how many "
        "days behind today that is.",
        expect_rows="SELECT EXISTS (FROM loaded_files) OR EXISTS (FROM landing_events) OR EXISTS (FROM grants) "
        "OR EXISTS (FROM owed_actions) OR EXISTS (FROM artist_snapshots)",
    ),
    Mart(
        "campaign_followers",
        ("campaign_releases", "s4a_audience_timeline", "artist_snapshots"),
        lambda _: CAMPAIGN_FOLLOWERS,
        "The campaign's artist's followers per day from eight weeks before release to two weeks after "
        "(or today): Spotify for Artists' timeline, and the services' API snapshots with popularity. A "
        "figure the API did not give (Spotify development-mode apps since 2026) is NULL with its status "
        "'not available', never 0.",
        expect_rows=CAMPAIGN_FOLLOWERS_INPUTS,
    ),
)
