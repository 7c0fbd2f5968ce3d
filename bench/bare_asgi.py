"""The baseline: a bare raw-ASGI app answering the 43-byte GIF (no token, no database)."""

import base64

GIF = base64.b64decode("R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==")
HEADERS = [(b"content-type", b"image/gif"), (b"content-length", b"43"), (b"cache-control", b"no-store")]


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": GIF})
