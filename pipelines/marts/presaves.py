"""Campaigns of every origin and their pre-saves: native grants, and fans imported from other tools.

A fan export's campaign (its Campaign column, or the file name's `<campaign>__` prefix) is matched to a
campaign known here by slug or title (`Midnight Drive` → `midnight-drive`). A campaign run entirely
elsewhere becomes an *imported* campaign when its release date is known: either create it here
(`presave campaign create`, it then simply has no native grants) or drop the artist's Spotify for
Artists songs export, whose song of the same title gives the release date (taken as midnight UTC).
Fans of a campaign known neither way stay in `presave_fans` only. A fan both imported and native (same
fan key, service and campaign) counts once, as native.
"""

from __future__ import annotations

from pipelines.marts.mart import Mart, slug

CAMPAIGN_RELEASES = f"""
WITH native AS (
    SELECT slug AS campaign_slug, artist, title, 'native' AS origin, release_at,
           (release_at AT TIME ZONE timezone)::DATE AS release_date, timezone,
           spotify_artist_id, deezer_artist_id, (release_at AT TIME ZONE 'UTC')::DATE AS first_stream_date
    FROM campaigns
),
named AS (
    SELECT DISTINCT {slug("campaign")} AS name_key FROM presave_fans
),
unknown AS (
    SELECT name_key FROM named n
    WHERE n.name_key <> '' AND NOT EXISTS (
        SELECT 1 FROM native c WHERE c.campaign_slug = n.name_key OR {slug("c.title")} = n.name_key
    )
),
songs AS (
    SELECT {slug("song")} AS name_key, arg_max(artist, release_date) AS artist,
           arg_max(song, release_date) AS title, max(release_date) AS release_date
    FROM s4a_songs WHERE release_date IS NOT NULL
    GROUP BY 1
)
SELECT * FROM native
UNION ALL BY NAME
SELECT u.name_key AS campaign_slug, s.artist, s.title, 'imported' AS origin,
       s.release_date::TIMESTAMP AT TIME ZONE 'UTC' AS release_at, s.release_date, 'UTC' AS timezone,
       s.release_date AS first_stream_date
FROM unknown u JOIN songs s USING (name_key)
"""

# Fan-export campaign names → campaign slugs: by slug first, then by title.
CAMPAIGN_NAMES = f"""
SELECT name_key, arg_min(campaign_slug, rank) AS campaign_slug FROM (
    SELECT campaign_slug AS name_key, campaign_slug, 0 AS rank FROM campaign_releases
    UNION ALL
    SELECT {slug("title")}, campaign_slug, 1 FROM campaign_releases
) GROUP BY name_key
"""

PRESAVES = f"""
WITH grant_source AS (
    SELECT campaign_slug, service, fan_key, arg_min(lower(trim(utm_source)), occurred_at) AS source
    FROM landing_events WHERE kind = 'grant' AND fan_key IS NOT NULL AND utm_source IS NOT NULL
    GROUP BY ALL
),
native AS (
    SELECT g.campaign_slug, 'native' AS origin, g.service, g.fan_key, g.granted_at AS presaved_at,
           g.country, s.source
    FROM grants g
    JOIN campaign_releases r ON r.campaign_slug = g.campaign_slug
    LEFT JOIN grant_source s
           ON s.campaign_slug = g.campaign_slug AND s.service = g.service AND s.fan_key = g.fan_key
    WHERE g.granted_at < r.release_at
),
names AS ({CAMPAIGN_NAMES}),
imported AS (
    SELECT n.campaign_slug, 'imported' AS origin, f.service, f.fan_key,
           f.presaved_at AT TIME ZONE 'UTC' AS presaved_at, f.country, lower(trim(f.source)) AS source
    FROM presave_fans f JOIN names n ON n.name_key = {slug("f.campaign")}
),
every AS (
    SELECT * FROM native
    UNION ALL BY NAME
    SELECT * FROM imported i
    WHERE i.fan_key IS NULL OR NOT EXISTS (
        SELECT 1 FROM native n
        WHERE n.campaign_slug = i.campaign_slug AND n.service = i.service AND n.fan_key = i.fan_key
    )
)
SELECT e.campaign_slug, e.origin, e.service, e.fan_key, e.presaved_at,
       (e.presaved_at AT TIME ZONE r.timezone)::DATE AS presaved_on,
       ((e.presaved_at AT TIME ZONE r.timezone)::DATE - r.release_date)::INTEGER AS days_to_release,
       e.country, e.source
FROM every e JOIN campaign_releases r USING (campaign_slug)
WHERE e.presaved_at < r.release_at
"""

PRESAVES_DAILY = """
SELECT campaign_slug, presaved_on AS date, greatest(days_to_release, -28) AS days_to_release, service,
       count(*) AS presaves,
       sum(count(*)) OVER (PARTITION BY campaign_slug, service ORDER BY presaved_on) AS cumulative
FROM presaves
GROUP BY campaign_slug, presaved_on, days_to_release, service
"""

PRESAVES_BY_COUNTRY = """
SELECT campaign_slug, coalesce(country, '(unknown)') AS country, service, count(*) AS presaves,
       count(*) / sum(count(*)) OVER (PARTITION BY campaign_slug) AS share
FROM presaves
GROUP BY 1, 2, 3
"""

MARTS = (
    Mart(
        "campaign_releases",
        ("campaigns", "presave_fans", "s4a_songs"),
        lambda _: CAMPAIGN_RELEASES,
        "Native campaigns with their local release date, and campaigns run with other tools whose fans "
        "were imported and whose release date the artist's songs export gives; `first_stream_date` is "
        "release day in the exports' calendar (UTC dates: a release at midnight in Berlin streams first "
        "on the UTC date before), day 0 of every stream and follower series.",
        expect_rows="SELECT EXISTS (SELECT 1 FROM campaigns)",
    ),
    Mart(
        "presaves",
        ("campaign_releases", "grants", "landing_events", "presave_fans"),
        lambda _: PRESAVES,
        "Native grants given before the release moment and imported fans, with the local day, the day "
        "relative to release, country and traffic source (the grant's UTM source).",
        expect_rows="SELECT EXISTS (SELECT 1 FROM grants g JOIN campaigns c ON c.slug = g.campaign_slug "
        "WHERE g.granted_at < c.release_at)",
    ),
    Mart(
        "presaves_daily",
        ("presaves",),
        lambda _: PRESAVES_DAILY,
        "Pre-saves counted per local day and service, with the running total per service; "
        "`days_to_release` counts the days before D-28 at D-28 (as accumulation does), `date` keeps the day.",
        expect_rows="SELECT EXISTS (SELECT 1 FROM presaves)",
    ),
    Mart(
        "presaves_by_country",
        ("presaves",),
        lambda _: PRESAVES_BY_COUNTRY,
        "Pre-saves per country (ISO code, '(unknown)' when not known) and service, with the country's "
        "share of the campaign's pre-saves.",
        expect_rows="SELECT EXISTS (SELECT 1 FROM presaves)",
    ),
)
