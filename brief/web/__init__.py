"""The web front (subscribe, confirm, preferences, unsubscribe, archive) and operator API."""
