"""The JSON API under /api/v1, one module per concept (OpenAPI at /api/v1/openapi.json): parse,
authorise, call an action or a named query, answer."""

from typing import Any

Responses = dict[int | str, dict[str, Any]]


def documented(code: int, description: str) -> Responses:
    """One documented answer for a route's OpenAPI ``responses`` (merge several with ``|``)."""
    return {code: {"description": description}}


INVALID = documented(422, "Invalid input; `detail[].loc` names the field")
