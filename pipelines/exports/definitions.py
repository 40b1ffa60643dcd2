"""Artist exports from the inbox, and the sensor that loads them as they arrive."""

import dagster as dg

from pipelines.exports.assets import inbox_exports, inbox_sensor

definitions = dg.Definitions(assets=[inbox_exports], sensors=[inbox_sensor])
