"""The access log never holds a secret: sign-in links, tracking tokens and webhook keys in paths,
and token-like query parameters, are replaced by `…` before a line is written."""

from __future__ import annotations

import logging
import re

# Path segments that are bearer secrets or identify a recipient: /signin/link/<t>, /o/<t>.gif,
# /c/<t>, and the Marketo webhook's /hooks/marketo/<key>.
_SECRET_PATHS = re.compile(r"^(/signin/link/|/o/|/c/|/hooks/[^/?]+/)[^?]*")
_SECRET_QUERY = re.compile(r"(?i)([?&](?:token|access_token|key|probe|code|state|signature)=)[^&]*")


def redact(path: str) -> str:
    """`path` (with its query) with every secret replaced by `…`."""
    path = _SECRET_PATHS.sub(lambda m: m.group(1) + "…", path)
    return _SECRET_QUERY.sub(lambda m: m.group(1) + "…", path)


class RedactSecrets(logging.Filter):
    """For uvicorn's access logger, whose arguments are (client, method, path, http version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact(args[2]), *args[3:])
        return True
