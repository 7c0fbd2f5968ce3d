"""The JSON API under /api/v1, one module per concept (OpenAPI at /api/v1/openapi.json): parse,
authorise, call an action or a named query, answer."""
