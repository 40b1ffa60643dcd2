"""One row of headline figures per campaign, gathered from the other marts."""

from __future__ import annotations

from pipelines.marts.mart import Mart

# Headline figures come from one series each, as the glossary names it (`pipelines/marts/glossary.py`).
CAMPAIGN_OVERVIEW = """
WITH counts AS (
    SELECT campaign_slug, count(*) AS presaves,
           count(*) FILTER (WHERE service = 'spotify') AS spotify_presaves,
           count(*) FILTER (WHERE service = 'apple') AS apple_presaves,
           count(*) FILTER (WHERE service = 'deezer') AS deezer_presaves
    FROM presaves GROUP BY ALL
),
accumulation AS (
    SELECT campaign_slug, arg_max(last_week_share, day) AS last_week_share FROM presave_accumulation GROUP BY ALL
),
delivered AS (
    SELECT campaign_slug, sum(delivered) AS delivered FROM release_outcomes WHERE kind = 'save_release' GROUP BY ALL
),
song AS (
    SELECT campaign_slug, week1_streams, streams_per_presaver, first_72h_streams, retention
    FROM first_week_velocity WHERE series = 'spotify_song'
),
artist AS (SELECT campaign_slug, week1_streams FROM first_week_velocity WHERE series = 'spotify_artist'),
lift AS (SELECT * FROM campaign_lift WHERE series = 'spotify_song'),
forecast AS (SELECT campaign_slug, point, low, high, note, caveat FROM presave_forecast WHERE is_latest),
kinds AS (SELECT campaign_slug, reminders FROM presave_kinds WHERE service = 'all')
SELECT r.campaign_slug, r.artist, r.title, r.origin, r.release_at,
       coalesce(c.presaves, 0) AS presaves, coalesce(c.spotify_presaves, 0) AS spotify_presaves,
       coalesce(c.apple_presaves, 0) AS apple_presaves, coalesce(c.deezer_presaves, 0) AS deezer_presaves,
       a.last_week_share, coalesce(d.delivered, 0) AS delivered,
       v.week1_streams AS first_week_streams, v.streams_per_presaver, v.first_72h_streams, v.retention,
       w.week1_streams AS artist_first_week_streams,
       l.artist_lift, l.artist_lift_low, l.artist_lift_high, l.artist_lift_verdict,
       l.roster_ratio, l.roster_ratio_low, l.roster_ratio_high, l.roster_verdict,
       f.point AS forecast_point, f.low AS forecast_low, f.high AS forecast_high, f.note AS forecast_note,
       s.score AS authenticity_score, s.status AS authenticity_status,
       s.not_checked AS authenticity_not_checked, f.caveat AS forecast_caveat,
       coalesce(k.reminders, 0) AS reminders
FROM campaign_releases r
LEFT JOIN counts c USING (campaign_slug)
LEFT JOIN accumulation a USING (campaign_slug)
LEFT JOIN delivered d USING (campaign_slug)
LEFT JOIN song v USING (campaign_slug)
LEFT JOIN artist w USING (campaign_slug)
LEFT JOIN lift l USING (campaign_slug)
LEFT JOIN forecast f USING (campaign_slug)
LEFT JOIN authenticity_scores s USING (campaign_slug)
LEFT JOIN kinds k USING (campaign_slug)
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
            "presave_kinds",
        ),
        lambda _: CAMPAIGN_OVERVIEW,
        "The headline figures of `figure_glossary`, each from the one mart and series the glossary names: "
        "pre-saves by service, last-week share, delivered saves, the song's Spotify first week (streams, "
        "72 hours, per Spotify pre-saver, retention), the artist's first-week streams, lift against the "
        "artist and the roster, today's forecast and the authenticity score and status; beside the pre-saves "
        "(direct: the label's app saves for them), the reminder pre-saves (`presave_kinds`).",
        expect_rows="SELECT EXISTS (SELECT 1 FROM campaign_releases)",
    ),
)
