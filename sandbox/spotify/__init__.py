"""The Spotify stand-in: the accounts service (`/spotify/accounts`) and the Web API (`/spotify/v1`)."""
