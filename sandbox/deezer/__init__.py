"""The Deezer stand-in: connect (`/deezer/connect/oauth/*.php`) and the API (`/deezer/api/...`)."""
