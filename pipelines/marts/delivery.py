"""Release-day outcomes and the health of the grants' tokens.

Time to library: from an action's due moment (the release moment, or the fan's local midnight in local
release mode; the grant moment for grant-time follows) to the moment the service accepted it, over
delivered actions.

Token health: Spotify refresh tokens die six months after the fan's authorization, whatever refreshing
happens (reference/dsp-apis.md A.0), so an active Spotify grant older than six months at its due moment
will not be delivered. The due moment is the grant's planned release save when planned, else the
campaign's release moment.
"""

from __future__ import annotations

from campaigns.models import Outcome
from campaigns.rules import refresh_token_dies_at_sql, unservable_sql
from pipelines.marts.mart import Mart

# One count per outcome the ledger knows, named after it.
_PER_OUTCOME = ",\n       ".join(f"count(*) FILTER (WHERE outcome = '{o}') AS {o}" for o in Outcome)

RELEASE_OUTCOMES = f"""
SELECT campaign_slug, service, kind,
       count(*) AS planned,
       {_PER_OUTCOME},
       count(*) FILTER (WHERE outcome = 'delivered') / count(*) AS delivered_share,
       quantile_cont(epoch(done_at - due_at), 0.5) FILTER (WHERE outcome = 'delivered') AS median_seconds_to_library,
       quantile_cont(epoch(done_at - due_at), 0.9) FILTER (WHERE outcome = 'delivered') AS p90_seconds_to_library,
       max(epoch(done_at - due_at)) FILTER (WHERE outcome = 'delivered') AS max_seconds_to_library
FROM owed_actions
GROUP BY ALL
"""

TOKEN_HEALTH = f"""
WITH due AS (
    SELECT campaign_slug, service, fan_key, min(due_at) AS due_at FROM owed_actions
    WHERE kind = 'save_release' GROUP BY ALL
)
SELECT g.campaign_slug, g.service, max(coalesce(d.due_at, c.release_at)) AS due_at,
       count(*) AS grants,
       count(*) FILTER (WHERE g.status = 'active') AS active,
       count(*) FILTER (WHERE g.status = 'expired') AS expired,
       count(*) FILTER (WHERE g.status = 'revoked') AS revoked,
       count(*) FILTER (WHERE g.service = 'spotify' AND g.status = 'active'
           AND {unservable_sql("g.granted_at", "coalesce(d.due_at, c.release_at)")}) AS expiring_before_due,
       min({refresh_token_dies_at_sql("g.granted_at")}) FILTER (WHERE g.service = 'spotify' AND g.status = 'active')
           AS earliest_expiry
FROM grants g
JOIN campaigns c ON c.slug = g.campaign_slug
LEFT JOIN due d USING (campaign_slug, service, fan_key)
GROUP BY ALL
"""

MARTS = (
    Mart(
        "release_outcomes",
        ("owed_actions",),
        lambda _: RELEASE_OUTCOMES,
        "Owed actions counted by outcome (planned = the sum of the six outcomes; ignored: the service "
        "answered an artist follow but did not keep it, not delivered), the delivered share, "
        "and the median, 90th percentile and maximum seconds from due moment to library.",
        expect_rows="SELECT EXISTS (SELECT 1 FROM owed_actions)",
    ),
    Mart(
        "token_health",
        ("grants", "owed_actions", "campaigns"),
        lambda _: TOKEN_HEALTH,
        "Grants by status, and the active Spotify grants whose refresh token is six months old or more "
        "at their due moment (they cannot be delivered); the earliest such expiry.",
        expect_rows="SELECT EXISTS (SELECT 1 FROM grants)",
    ),
)
