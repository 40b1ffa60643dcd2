"""Pure statistics behind the marts: numbers and pandas frames in, numbers and frames out (no Dagster).

- `proportions`: Wilson intervals, pooled two-proportion z-test with Newcombe's interval, Holm, conversion
  by service (overall and per source).
- `lift`: log-log roster fit of first-week streams on pre-saves with bootstrap intervals; within-artist lift.
- `velocity`: first-week velocity metrics from a daily series aligned to release day.
- `accumulation`: pre-save curves D−28…D0, last-week share, release-day forecast with a prediction interval.
- `authenticity`: bursts, no time on page, foreign countries, audience excess; a per-campaign score.
"""
