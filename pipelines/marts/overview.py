"""One row of headline figures per campaign, gathered from the other marts."""

from __future__ import annotations

from pipelines.marts.mart import Mart

# The series a campaign's headline first-week figures come from, most specific first.
SERIES_ORDER = "CASE series WHEN 'spotify_song' THEN 0 WHEN 'spotify_artist' THEN 1 ELSE 2 END"

CAMPAIGN_OVERVIEW = f"""
WITH counts AS (
    SELECT campaign_slug, count(*) AS presaves,
           count(*) FILTER (WHERE service = 'spotify') AS spotify_presaves,
           count(*) FILTER (WHERE service = 'apple') AS apple_presaves,
           count(*) FILTER (WHERE service = 'deezer') AS deezer_presaves
    FROM presaves GROUP BY ALL
),
accumulation AS (SELECT DISTINCT campaign_slug, last_week_share FROM presave_accumulation),
delivered AS (
    SELECT campaign_slug, sum(delivered) AS delivered FROM release_outcomes WHERE kind = 'save_release' GROUP BY ALL
),
velocity AS (
    SELECT campaign_slug, week1_streams, streams_per_presaver FROM first_week_velocity
    QUALIFY row_number() OVER (PARTITION BY campaign_slug ORDER BY {SERIES_ORDER}) = 1
),
lift AS (
    SELECT campaign_slug, artist_lift, roster_ratio FROM campaign_lift
    QUALIFY row_number() OVER (PARTITION BY campaign_slug ORDER BY {SERIES_ORDER}) = 1
),
forecast AS (SELECT campaign_slug, point, low, high FROM presave_forecast WHERE is_latest)
SELECT r.campaign_slug, r.artist, r.title, r.origin, r.release_at,
       coalesce(c.presaves, 0) AS presaves, coalesce(c.spotify_presaves, 0) AS spotify_presaves,
       coalesce(c.apple_presaves, 0) AS apple_presaves, coalesce(c.deezer_presaves, 0) AS deezer_presaves,
       a.last_week_share, coalesce(d.delivered, 0) AS delivered,
       v.week1_streams AS first_week_streams, v.streams_per_presaver,
       l.artist_lift, l.roster_ratio,
       f.point AS forecast_point, f.low AS forecast_low, f.high AS forecast_high,
       s.score AS authenticity_score
FROM campaign_releases r
LEFT JOIN counts c USING (campaign_slug)
LEFT JOIN accumulation a USING (campaign_slug)
LEFT JOIN delivered d USING (campaign_slug)
LEFT JOIN velocity v USING (campaign_slug)
LEFT JOIN lift l USING (campaign_slug)
LEFT JOIN forecast f USING (campaign_slug)
LEFT JOIN authenticity_scores s USING (campaign_slug)
"""

MARTS = (
    Mart(
        "campaign_overview",
        (
            "campaign_releases",
            "presaves",
            "presave_accumulation",
            "release_outcomes",
            "first_week_velocity",
            "campaign_lift",
            "presave_forecast",
            "authenticity_scores",
        ),
        lambda _: CAMPAIGN_OVERVIEW,
        "Pre-saves by service, last-week share, delivered saves, first-week streams and streams per "
        "pre-saver (the song's Spotify series when exported, else the artist's), lift against the artist "
        "and the roster, today's forecast and the authenticity score.",
        expect_rows="SELECT EXISTS (SELECT 1 FROM campaign_releases)",
    ),
)
