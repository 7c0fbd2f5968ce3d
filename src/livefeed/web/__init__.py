"""HTTP: tracking endpoints (raw ASGI), the live stream, the JSON API and the HTML pages."""
