"""docs/api.md: the conventions by hand, the endpoint list generated from the OpenAPI description
(`livefeed api-docs`), so the list cannot drift from the code (a test compares them)."""

from __future__ import annotations

INTRO = """# API

The JSON API is what the web app, the Live Feed window and the browser extension use. Its full,
current description is served by every LiveFeed server:

- OpenAPI 3: `/api/v1/openapi.json`
- Browsable, with "try it out": `/api/v1/docs`

## Conventions

- **Authentication.** `Authorization: Bearer lf_…`, a rep's API token
  (`livefeed tokens create --email rita@example.com`), or the web app's session cookie. Every call
  acts as that rep, inside their workspace: other workspaces' data is a 404, never a 403 that
  would confirm it exists. Settings of the workspace (`PATCH /api/v1/workspace`, users,
  connectors) need an admin.
- **Errors.** Bad input is a 422 in FastAPI's shape, naming the field:
  `{"detail": [{"loc": ["body", "to", "1"], "msg": "…", "type": "value_error"}]}`; nothing was
  changed. An external server's refusal (SMTP, IMAP, Marketo, Salesforce) is reported in its own
  words in `msg`.
- **Times** are ISO 8601 in UTC (`2026-11-26T09:00:00Z`); task days are days in the assignee's time
  zone.
- **Secrets** (passwords, client secrets, webhook secrets) are write-only: answers say whether
  one is set, never what it is.
- **The live stream.** `GET /api/v1/feed/stream` is Server-Sent Events: `hit` frames carry the
  same JSON as `GET /api/v1/feed`, each with its event id; reconnect with `Last-Event-ID` (or
  `?after=`) and the missed rows are replayed before live ones, in id order, none twice. See
  architecture.md for the protocol.
- **Feed rows** have a `kind`: `open`, `click`, `reply`, `auto_reply`, `bounce` (about an email;
  `class` says human, proxy, machine, scanner or self), `score`, `item` (pushed through the API),
  marketing kinds (`moment`, `visit`, `form`, `marketing_open`, `marketing_click`), and `notice`:
  about the rep's own account, with `person: null`, a `message` and a `link_url` to act on (a
  Google or Microsoft mail connection that needs connecting again). Ignore kinds you do not know.
- **Public endpoints** (no token): the tracking pixel `/o/…` and links `/c/…`, the website snippet
  `/w.js` and its beacon, the Marketo webhook `/hooks/marketo/<site key>` (its own secret
  header), and `/api/v1/health`.

## Endpoints

Generated from the OpenAPI description (`livefeed api-docs > docs/api.md`).
"""


def api_markdown(spec: dict) -> str:
    """The intro, then one table per group of paths (the segment after /api/v1/)."""
    groups: dict[str, list[tuple[str, str, str]]] = {}
    for path, operations in spec["paths"].items():
        if not path.startswith("/api/v1/"):
            continue
        group = path.removeprefix("/api/v1/").split("/")[0]
        for method, operation in operations.items():
            groups.setdefault(group, []).append((method.upper(), path, operation.get("summary", "").replace("|", "\\|")))
    out = [INTRO]
    for group in sorted(groups):
        out.append(f"\n### {group}\n\n| Method | Path | What it does |\n|---|---|---|\n")
        out.extend(f"| {method} | `{path}` | {summary} |\n" for method, path, summary in groups[group])
    return "".join(out)
