"""Artist exports from the inbox."""

import dagster as dg

from pipelines.exports.assets import s4a_audience_timeline

definitions = dg.Definitions(assets=[s4a_audience_timeline])
