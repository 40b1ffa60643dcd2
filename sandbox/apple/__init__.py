"""The Apple Music API stand-in (`/apple/v1/...`) and the MusicKit JS shim (`/apple/musickit.js`)."""
