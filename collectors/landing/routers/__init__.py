"""The landing app's routes, by concern. `create_app` includes them in this order: fixed paths first
(`/forget…`, `/oauth/…`), then the campaign's own paths under `/{slug}`."""
