"""Signs that a campaign's pre-saves are not all real fans, and a per-campaign score.

Four signs, each measured as the share of the campaign's grants it casts doubt on:

- **Bursts** from one key (an IP hash, a device class): a window of `window` in which the key has
  at least `min_count` grants and improbably many given how many grants the whole campaign had in that
  window. The baseline is the key's own share of the campaign's grants: with a share s and n grants in
  the window, the key's count is Binomial(n, s) if nothing is wrong; a window is a burst when the upper
  tail P(X ≥ count) is below `alpha` divided by the number of windows tested (Bonferroni, so `alpha` holds
  for the whole campaign). A launch-day spike of real fans raises every key's count together and is not
  a burst; one IP or one headless browser filling a window is. `hard_cap` also flags any window with that
  many grants from one key whatever the baseline (a campaign taken over by one source has no clean
  baseline). Implicated: every grant inside a burst window.
- **No time on the page**: grants whose visitor spent at most `threshold` seconds on the landing page
  before granting. Unknown times are not counted.
- **Countries outside the audience**: grants from countries where the artist has (almost) no listeners:
  below `min_share` of the artist's audience. Grants without a country are not counted.
- **More pre-saves than the audience supports**: pre-saves beyond `max_ratio` × the artist's audience
  (monthly listeners or followers). Implicated: the excess.

Score = Π (1 − share implicated by each sign), in [0, 1]: 1 means no warning sign, 0.6 means the signs
together cast doubt on about 40 % of the grants (treating the signs as independent).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

WINDOW = pd.Timedelta(minutes=10)


@dataclass(frozen=True)
class Sign:
    """One warning sign: its name, how many grants it implicates out of how many, and why, in words."""

    name: str
    implicated: float
    grants: int
    reason: str

    @property
    def share(self) -> float:
        return min(1.0, self.implicated / self.grants) if self.grants else 0.0


@dataclass(frozen=True)
class AuthenticityReport:
    """The signs found in one campaign and its score (1 = no warning sign)."""

    grants: int
    signs: tuple[Sign, ...] = field(default_factory=tuple)

    @property
    def score(self) -> float:
        return float(np.prod([1 - sign.share for sign in self.signs])) if self.signs else 1.0

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(sign.reason for sign in self.signs)


def burst_windows(
    granted_at: pd.Series,
    keys: pd.Series,
    *,
    window: pd.Timedelta = WINDOW,
    min_count: int = 5,
    alpha: float = 1e-3,
    hard_cap: int | None = None,
) -> pd.DataFrame:
    """For every grant, the window of `window` ending at it: the key's count, the campaign's count, the
    binomial p-value, and whether it is a burst. Rows are in the input's order; grants without a key are
    never bursts. Columns: key, window_end, key_count, campaign_count, expected, p_value, burst, in_burst
    (the grant lies inside some burst window of its key)."""
    frame = pd.DataFrame(
        {"at": pd.to_datetime(granted_at).to_numpy(), "key": keys.to_numpy()}, index=granted_at.index
    )
    seconds = ((frame["at"] - frame["at"].min()).dt.total_seconds()).to_numpy()
    width = window.total_seconds()
    all_sorted = np.sort(seconds)
    campaign_count = np.searchsorted(all_sorted, seconds, side="right") - np.searchsorted(
        all_sorted, seconds - width, side="left"
    )
    codes, uniques = pd.factorize(frame["key"])
    keyed = codes >= 0
    # A key's share of the campaign's grants (one slot more so a campaign without any key indexes safely).
    share = np.bincount(codes[keyed], minlength=len(uniques) + 1) / max(len(frame), 1)
    start, end, order = _key_windows(seconds, codes, keyed, width)
    key_count = np.where(keyed, end - start, 0)
    key_share = np.where(keyed, share[np.maximum(codes, 0)], 0.0)
    p_value = np.where(keyed, stats.binom.sf(key_count - 1, campaign_count, key_share), 1.0)
    tested = max(1, int(keyed.sum()))
    burst = keyed & (key_count >= min_count) & (p_value < alpha / tested)
    if hard_cap is not None:
        burst |= keyed & (key_count >= hard_cap)
    in_burst = _inside_bursts(start, end, burst, order)
    return pd.DataFrame(
        {
            "key": frame["key"],
            "window_end": frame["at"],
            "key_count": key_count,
            "campaign_count": campaign_count,
            "expected": campaign_count * key_share,
            "p_value": p_value,
            "burst": burst,
            "in_burst": in_burst & keyed,
        },
        index=frame.index,
    )


def _key_windows(
    seconds: np.ndarray, codes: np.ndarray, keyed: np.ndarray, width: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start, end, order): each grant's window of its key, as a range of positions in (key, time) order,
    and that order."""
    # Sort by (key, time) on one number so a single searchsorted finds each window within its key.
    # Keys are spaced further apart than any window reaches; grants without a key sit at 0, below them all.
    span = seconds.max() + 2 * width + 1 if len(seconds) else 1.0
    composite = np.where(keyed, (codes + 1) * span + seconds, 0.0)
    order = np.argsort(composite, kind="stable")
    sorted_composite = composite[order]
    start = np.searchsorted(sorted_composite, composite - width, side="left")
    end = np.searchsorted(sorted_composite, composite, side="right")
    return start, end, order


def _inside_bursts(start: np.ndarray, end: np.ndarray, burst: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Every grant within a burst window: mark the window's range in (key, time) order, then undo the
    sort."""
    cover = np.zeros(len(order) + 1, dtype=np.int64)
    np.add.at(cover, start[burst], 1)
    np.add.at(cover, end[burst], -1)
    in_burst = np.empty(len(order), dtype=bool)
    in_burst[order] = np.cumsum(cover[:-1]) > 0
    return in_burst


def burst_sign(
    granted_at: pd.Series,
    keys: pd.Series,
    what: str,
    *,
    window: pd.Timedelta = WINDOW,
    min_count: int = 5,
    alpha: float = 1e-3,
    hard_cap: int | None = None,
) -> Sign | None:
    """The bursts of one kind of key (`what`: "IP hash", "device class") as a sign, or None."""
    windows = burst_windows(
        granted_at, keys, window=window, min_count=min_count, alpha=alpha, hard_cap=hard_cap
    )
    bursts = windows[windows["burst"]]
    if bursts.empty:
        return None
    worst = bursts.sort_values("key_count", ascending=False).drop_duplicates("key")
    top = worst.iloc[0]
    minutes = window.total_seconds() / 60
    implicated = int(windows["in_burst"].sum())
    reason = (
        f"{implicated} of {len(windows)} grants came in bursts from {len(worst)} {what}(s); worst: "
        f"{str(top['key'])[:12]} with {int(top['key_count'])} grants in {minutes:g} min "
        f"(about {top['expected']:.1f} expected from its share of the campaign)"
    )
    return Sign(f"{what} burst", implicated, len(windows), reason)


def no_time_on_page_sign(seconds_on_page: pd.Series, threshold: float = 1.0) -> Sign | None:
    """Grants made at most `threshold` seconds after the page was opened (unknown times not counted)."""
    fast = int((seconds_on_page.astype("Float64") <= threshold).fillna(False).sum())
    if fast == 0:
        return None
    reason = f"{fast} of {len(seconds_on_page)} grants spent ≤ {threshold:g} s on the page before granting"
    return Sign("no time on page", fast, len(seconds_on_page), reason)


def foreign_country_sign(
    countries: pd.Series, audience: Mapping[str, float], min_share: float = 0.001
) -> Sign | None:
    """Grants from countries below `min_share` of the artist's audience (listeners or shares by country)."""
    total = float(sum(audience.values()))
    if total <= 0:
        return None
    shares = {country.upper(): value / total for country, value in audience.items()}
    known = countries.dropna().astype(str).str.upper()
    outside = known[known.map(shares).fillna(0.0).lt(min_share)]
    if outside.empty:
        return None
    top = outside.value_counts().head(3)
    listed = ", ".join(f"{country} ({count})" for country, count in top.items())
    reason = (
        f"{len(outside)} of {len(countries)} grants came from countries where the artist has under "
        f"{min_share:.1%} of its audience: {listed}"
    )
    return Sign("countries outside the audience", len(outside), len(countries), reason)


def audience_excess_sign(presaves: int, audience_size: float, max_ratio: float = 0.5) -> Sign | None:
    """Pre-saves beyond `max_ratio` × the artist's audience size."""
    ceiling = max_ratio * audience_size
    if presaves <= ceiling or presaves == 0:
        return None
    reason = (
        f"{presaves} pre-saves against an audience of {audience_size:,.0f}: more than {max_ratio:.0%} of it "
        f"would pre-save; {presaves - ceiling:,.0f} are beyond what the audience supports"
    )
    return Sign("pre-saves beyond the audience", presaves - ceiling, presaves, reason)


def authenticity_report(
    grants: pd.DataFrame,
    *,
    audience_countries: Mapping[str, float] | None = None,
    audience_size: float | None = None,
    window: pd.Timedelta = WINDOW,
    min_count: int = 5,
    alpha: float = 1e-3,
    ip_hard_cap: int | None = 20,
    seconds_threshold: float = 1.0,
    min_country_share: float = 0.001,
    max_audience_ratio: float = 0.5,
) -> AuthenticityReport:
    """All signs for one campaign's grants.

    `grants` has granted_at and any of ip_hash, device_class, seconds_on_page, country; a sign whose
    column (or audience figure) is missing is simply not evaluated.
    """
    signs: list[Sign | None] = []
    bursts = (("ip_hash", "IP hash", ip_hard_cap), ("device_class", "device class", None))
    for column, label, hard_cap in bursts:
        if column in grants:
            signs.append(
                burst_sign(
                    grants["granted_at"],
                    grants[column],
                    label,
                    window=window,
                    min_count=min_count,
                    alpha=alpha,
                    hard_cap=hard_cap,
                )
            )
    if "seconds_on_page" in grants:
        signs.append(no_time_on_page_sign(grants["seconds_on_page"], seconds_threshold))
    if "country" in grants and audience_countries:
        signs.append(foreign_country_sign(grants["country"], audience_countries, min_country_share))
    if audience_size is not None:
        signs.append(audience_excess_sign(len(grants), audience_size, max_audience_ratio))
    return AuthenticityReport(len(grants), tuple(sign for sign in signs if sign is not None))


def score_campaigns(
    grants: pd.DataFrame,
    audiences: pd.DataFrame | None = None,
    countries: Mapping[str, Mapping[str, float]] | None = None,
    **options: object,
) -> pd.DataFrame:
    """`authenticity_report` for every campaign in `grants` (column campaign).

    `audiences`: optional, indexed by campaign, column audience_size. `countries`: optional, campaign →
    {country: listeners}. Returns one row per campaign: grants, score, reasons (one line per sign).
    """
    rows = []
    for campaign, part in grants.groupby("campaign", sort=True):
        size = None
        if audiences is not None and campaign in audiences.index:
            size = float(audiences.loc[campaign, "audience_size"])
        report = authenticity_report(
            part,
            audience_countries=(countries or {}).get(campaign),
            audience_size=size,
            **options,  # type: ignore[arg-type]
        )
        reasons = "\n".join(report.reasons)
        rows.append(
            {"campaign": campaign, "grants": report.grants, "score": report.score, "reasons": reasons}
        )
    return pd.DataFrame(rows, columns=["campaign", "grants", "score", "reasons"])
