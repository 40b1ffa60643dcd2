"""One colour and one name per service, for every chart of the dashboard and the pitch pack."""

from __future__ import annotations

SERVICE_COLOURS = {"spotify": "#1db954", "apple": "#fa243c", "deezer": "#a238ff", "any": "#555555"}
SERVICE_NAMES = {"spotify": "Spotify", "apple": "Apple Music", "deezer": "Deezer", "any": "any service"}
# Counts of all services together: the colour of no single service.
ALL_SERVICES = SERVICE_COLOURS["any"]
HIGHLIGHT = "#f5a623"  # forecasts and the campaign picked out
