"""The glossary of headline figures: one name, one definition, one unit and one place each figure lives.

Every page that shows a figure reads its label and help text from the `figure_glossary` table (written by
the marts job from `FIGURES`), and its value from the mart and column named here, so the same figure shows
the same number everywhere. A figure whose mart has a `series` column (first-week figures) lives in the
row of the series named in `series`; per-service figures live in one row per service.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from pipelines.marts.mart import Mart


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    unit: str
    definition: str  # the formula, in words, as computed
    help: str  # what it tells, and when it is empty
    mart: str
    column: str
    display: str  # Python format for one value, e.g. "{:,.0f}"
    series: str | None = None


FIGURES: tuple[Figure, ...] = (
    Figure(
        "presaves",
        "pre-saves (all services)",
        "pre-saves",
        "Grants given on this landing page before the release moment (one per fan and service), plus fans "
        "imported from other tools who did not also grant here.",
        "Counted per campaign; the per-service figures add up to it.",
        "campaign_overview",
        "presaves",
        "{:,.0f}",
    ),
    Figure(
        "spotify_presaves",
        "Spotify pre-saves",
        "pre-saves",
        "Pre-saves (as defined for `presaves`) on Spotify.",
        "The population behind every Spotify per-pre-saver figure.",
        "campaign_overview",
        "spotify_presaves",
        "{:,.0f}",
    ),
    Figure(
        "apple_presaves",
        "Apple Music pre-saves",
        "pre-saves",
        "Pre-saves (as defined for `presaves`) on Apple Music.",
        "The population behind every Apple Music per-pre-saver figure.",
        "campaign_overview",
        "apple_presaves",
        "{:,.0f}",
    ),
    Figure(
        "deezer_presaves",
        "Deezer pre-saves",
        "pre-saves",
        "Pre-saves (as defined for `presaves`) on Deezer.",
        "Deezer exports no streams here, so no per-pre-saver figure uses them.",
        "campaign_overview",
        "deezer_presaves",
        "{:,.0f}",
    ),
    Figure(
        "last_week_share",
        "share in the last seven days",
        "share of pre-saves",
        "Pre-saves in the seven local days up to the last day counted (release day once released, else "
        "today) ÷ pre-saves up to that day.",
        "Momentum before release; empty without pre-saves.",
        "campaign_overview",
        "last_week_share",
        "{:.0%}",
    ),
    Figure(
        "forecast",
        "release-day forecast",
        "pre-saves",
        "Before release only: pre-saves so far × the geometric mean growth (release-day count ÷ count at "
        "the same relative day) of at least three earlier campaigns of the roster; 95% t prediction "
        "interval on the log scale, lower bound at least the count so far.",
        "Empty, with the reason in `forecast_note`, once released, without pre-saves so far, or with fewer "
        "than three comparable earlier campaigns.",
        "campaign_overview",
        "forecast_point",
        "{:,.0f}",
    ),
    Figure(
        "conversion_rate",
        "conversion",
        "share of visitors",
        "Of the distinct visitors (one browser session each) whose first choice was the service (its button "
        "clicked, its authorization started, granted, denied or failed), the share who granted it; Wilson "
        "95% interval.",
        "Per campaign (or all campaigns) and first traffic source (or all sources).",
        "service_conversion",
        "rate",
        "{:.1%}",
    ),
    Figure(
        "conversion_any",
        "conversion (any service)",
        "share of visitors",
        "Of every distinct visitor of the page, including those who chose no service, the share who granted "
        "at least one service; Wilson 95% interval. It is the row with service `any`.",
        "The page's overall visit-to-pre-save rate; lower than every per-service rate when visitors leave "
        "without choosing.",
        "service_conversion",
        "rate",
        "{:.1%}",
    ),
    Figure(
        "conversion_difference",
        "conversion difference",
        "percentage points",
        "Conversion of the first service − conversion of the second; Newcombe hybrid score 95% interval, "
        "pooled two-proportion z-test, Holm adjustment over the pairs of the same campaign and source.",
        "The verdict in words is in `service_comparison.verdict`.",
        "service_comparison",
        "difference",
        "{:+.1%}",
    ),
    Figure(
        "first_week_streams",
        "first-week streams (Spotify, the song)",
        "streams",
        "Spotify streams of the campaign's song over its first seven days, the first streaming day to day "
        "six, in the export's calendar (UTC dates; Spotify for Artists song timeline).",
        "Empty until all seven days are exported.",
        "campaign_overview",
        "first_week_streams",
        "{:,.0f}",
        "spotify_song",
    ),
    Figure(
        "artist_first_week_streams",
        "artist's first-week streams (Spotify, all songs)",
        "streams",
        "Spotify streams of all the artist's songs over the campaign's release day to day six (Spotify for "
        "Artists audience timeline).",
        "Includes the back catalogue; empty until all seven days are exported.",
        "campaign_overview",
        "artist_first_week_streams",
        "{:,.0f}",
        "spotify_artist",
    ),
    Figure(
        "streams_per_presaver",
        "first-week Spotify streams per Spotify pre-saver",
        "streams per pre-saver",
        "First-week streams of the song on Spotify ÷ Spotify pre-saves (the same service on both sides).",
        "Not the streams pre-savers made (exports cannot tell): a scale for comparing campaigns.",
        "campaign_overview",
        "streams_per_presaver",
        "{:,.1f}",
        "spotify_song",
    ),
    Figure(
        "first_72h_streams",
        "first 72 hours (Spotify, the song)",
        "streams",
        "Spotify streams of the song on release day and the two days after (D0–D2).",
        "Velocity: how fast the first week started.",
        "campaign_overview",
        "first_72h_streams",
        "{:,.0f}",
        "spotify_song",
    ),
    Figure(
        "day1_share",
        "release day's share of week one",
        "share of streams",
        "Spotify streams of the song on release day ÷ its first-week streams.",
        "High when the release day carried the week.",
        "first_week_velocity",
        "day1_share",
        "{:.0%}",
        "spotify_song",
    ),
    Figure(
        "retention",
        "retention (week two ÷ week one)",
        "ratio",
        "Spotify streams of the song on days 7–13 ÷ days 0–6.",
        "Empty until day 13 is exported.",
        "campaign_overview",
        "retention",
        "{:.2f}",
        "spotify_song",
    ),
    Figure(
        "artist_lift",
        "lift against the artist's earlier releases",
        "× (1 = as usual)",
        "First-week streams per follower ÷ the geometric mean of the same for the artist's earlier releases "
        "in the same series; followers: the last count before release day less the campaign's own "
        "delivered follows; 95% t prediction interval on the log scale.",
        "Needs five earlier releases measured the same way; until then `artist_lift_verdict` says it cannot "
        "be judged yet.",
        "campaign_overview",
        "artist_lift",
        "{:.2f}×",
        "spotify_song",
    ),
    Figure(
        "roster_ratio",
        "against the roster line",
        "× (1 = on the line)",
        "First-week streams ÷ what a log-log line fitted on the roster's other campaigns expects for this "
        "many pre-saves of the same service (Spotify song streams against Spotify pre-saves); 95% t "
        "prediction interval.",
        "Needs five other campaigns in the series; until then `roster_verdict` says it cannot be judged yet.",
        "campaign_overview",
        "roster_ratio",
        "{:.2f}×",
        "spotify_song",
    ),
    Figure(
        "follower_gain",
        "new followers (pre-save window)",
        "followers",
        "Followers on the service at release day − followers the day before the window (D-28, or the "
        "first pre-save follow if earlier), from that service's own follower series (Spotify for Artists "
        "timeline or API snapshots for Spotify, API snapshots for Deezer), in its calendar (UTC dates).",
        "One row per service; no row when the service's series does not cover the window. Where the "
        "series stops before release day (yesterday's export) the window ends on its last day, said in "
        "`follower_gain.note`. Spotify for Artists counts every follower; the Spotify API's count differs "
        "(another source, and none at all for development-mode apps): never compare one with the other.",
        "follower_gain",
        "total_gain",
        "{:+,.0f}",
    ),
    Figure(
        "presave_follows",
        "follows from pre-saves",
        "followers",
        "Artist follows the ledger records as delivered on the service within the window (D-28, or the "
        "first pre-save follow, … D0, or the follower series' last day if earlier).",
        "Only follows that happened; nothing is assumed for campaigns whose ledger holds none.",
        "follower_gain",
        "presave_follows",
        "{:,.0f}",
    ),
    Figure(
        "organic_gain",
        "organic follower gain",
        "followers",
        "`follower_gain` − `presave_follows` on the same service.",
        "Beside it, `expected_organic_gain`: the artist's previous 29 days' pace over the window.",
        "follower_gain",
        "organic_gain",
        "{:+,.0f}",
    ),
    Figure(
        "delivered_saves",
        "release saves delivered",
        "saves",
        "Owed release saves (`save_release`) the services accepted.",
        "Per service and kind in `release_outcomes`, with the delivered share.",
        "campaign_overview",
        "delivered",
        "{:,.0f}",
    ),
    Figure(
        "authenticity_score",
        "authenticity score",
        "score 0–1",
        "Π (1 − share of pre-saves implicated by each warning sign checked); 1 = no warning sign among the "
        "signs that could be checked.",
        "Read with `authenticity_status`: 'not checked (no data)' when no sign could be evaluated.",
        "campaign_overview",
        "authenticity_score",
        "{:.2f}",
    ),
    Figure(
        "authenticity_status",
        "authenticity",
        "status",
        "'not checked (no data)' when no sign could be evaluated, 'no warning sign' when all five signs "
        "were checked and found nothing, 'no warning sign in the 3 of 5 signs checked' when some could "
        "not be (a sign not checked is not a sign absent), else 'warning signs' with the reasons.",
        "Lists the signs not checked for want of data in `authenticity_scores.not_checked`.",
        "campaign_overview",
        "authenticity_status",
        "{}",
    ),
)


def glossary_frame() -> pd.DataFrame:
    """The glossary as the `figure_glossary` table's rows, in display order."""
    return pd.DataFrame(
        [
            {
                "figure": f.key,
                "position": position,
                "label": f.label,
                "unit": f.unit,
                "definition": f.definition,
                "help": f.help,
                "mart": f.mart,
                "column_name": f.column,
                "series": f.series,
                "display": f.display,
            }
            for position, f in enumerate(FIGURES)
        ]
    )


MARTS = (
    Mart(
        "figure_glossary",
        (),
        lambda _: glossary_frame(),
        "The headline figures' names, labels, units, definitions and help texts, and the mart column each "
        "lives in: what every page shows beside a figure.",
    ),
)
