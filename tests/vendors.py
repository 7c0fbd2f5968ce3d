"""A local stand-in for Marketo's and Salesforce's REST APIs, answering with the payloads captured
in tests/fixtures/ (shaped as in the vendors' documentation). Tests queue failures (token expiry,
rate limits, quota, malformed answers) and read what was asked."""

from __future__ import annotations

import json
from collections import defaultdict, deque
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

FIXTURES = Path(__file__).with_name("fixtures")
CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN = "mkto-client", "mkto-secret", "sf-refresh-token"


def fixture(vendor: str, name: str, port: int = 0):
    return json.loads((FIXTURES / vendor / f"{name}.json").read_text().replace("{PORT}", str(port)))


class Vendors:
    def __init__(self):
        self.port = 0
        self.tokens = 0
        self.valid_tokens: set[str] = set()
        self.calls: list[tuple[str, dict]] = []
        self.queued: dict[str, deque] = defaultdict(deque)
        self.app = Starlette(
            routes=[
                Route("/identity/oauth/token", self.marketo_token, methods=["POST", "GET"]),
                Route("/rest/v1/activities/pagingtoken.json", self.marketo_paging),
                Route("/rest/v1/activities.json", self.marketo_activities),
                Route("/rest/v1/leads.json", self.marketo_leads),
                Route("/services/oauth2/token", self.salesforce_token, methods=["POST"]),
                Route("/services/data/v60.0/query", self.salesforce_query),
                Route("/services/data/v60.0/query/{locator}", self.salesforce_more),
            ]
        )

    def queue(self, path: str, status: int, body) -> None:
        """The next request to `path` gets this answer (a fixture name, a dict, or raw bytes)."""
        self.queued[path].append((status, body))

    def expire_tokens(self) -> None:
        self.valid_tokens.clear()

    def paths(self) -> list[str]:
        return [path for path, _ in self.calls]

    async def __call__(self, scope, receive, send):
        await self.app(scope, receive, send)

    def _queued(self, request: Request, vendor: str):
        waiting = self.queued.get(request.url.path)
        if waiting:
            status, body = waiting.popleft()
            if isinstance(body, bytes):
                return Response(body, status, media_type="application/json")
            return JSONResponse(fixture(vendor, body, self.port) if isinstance(body, str) else body, status)
        return None

    async def _note(self, request: Request) -> dict:
        params = dict(request.query_params)
        if request.method == "POST":
            params.update(dict(await request.form()))
        self.calls.append((request.url.path, params))
        return params

    def _authorised(self, request: Request) -> bool:
        return request.headers.get("authorization", "").removeprefix("Bearer ") in self.valid_tokens

    def _new_token(self, vendor: str) -> dict:
        self.tokens += 1
        body = fixture(vendor, "token", self.port)
        body["access_token"] = f"{body['access_token']}-{self.tokens}"
        self.valid_tokens.add(body["access_token"])
        return body

    # --- Marketo ----------------------------------------------------------------------------

    async def marketo_token(self, request: Request):
        params = await self._note(request)
        if (queued := self._queued(request, "marketo")) is not None:
            return queued
        if params.get("client_id") != CLIENT_ID or params.get("client_secret") != CLIENT_SECRET:
            return JSONResponse(fixture("marketo", "token_refused"), 401)
        return JSONResponse(self._new_token("marketo"))

    async def _marketo(self, request: Request):
        params = await self._note(request)
        if (queued := self._queued(request, "marketo")) is not None:
            return params, queued
        if not self._authorised(request):
            return params, JSONResponse(fixture("marketo", "error_601"))  # Marketo answers 200 with success false
        return params, None

    async def marketo_paging(self, request: Request):
        params, early = await self._marketo(request)
        return early or JSONResponse(fixture("marketo", "paging_token"))

    async def marketo_activities(self, request: Request):
        params, early = await self._marketo(request)
        if early:
            return early
        pages = {
            fixture("marketo", "paging_token")["nextPageToken"]: "activities_page1",
            fixture("marketo", "activities_page1")["nextPageToken"]: "activities_page2",
        }
        return JSONResponse(fixture("marketo", pages.get(params.get("nextPageToken"), "activities_empty")))

    async def marketo_leads(self, request: Request):
        params, early = await self._marketo(request)
        if early:
            return early
        body = fixture("marketo", "leads")
        wanted = set(params.get("filterValues", "").split(","))
        key = "id" if params.get("filterType") == "id" else "email"
        body["result"] = [lead for lead in body["result"] if str(lead[key]) in wanted]
        return JSONResponse(body)

    # --- Salesforce -------------------------------------------------------------------------

    async def salesforce_token(self, request: Request):
        params = await self._note(request)
        if (queued := self._queued(request, "salesforce")) is not None:
            return queued
        if params.get("refresh_token") != REFRESH_TOKEN or params.get("client_secret") != CLIENT_SECRET:
            return JSONResponse(fixture("salesforce", "token_refused"), 400)
        return JSONResponse(self._new_token("salesforce"))

    async def salesforce_query(self, request: Request):
        params = await self._note(request)
        if (queued := self._queued(request, "salesforce")) is not None:
            return queued
        if not self._authorised(request):
            return JSONResponse(fixture("salesforce", "invalid_session"), 401)
        soql = params.get("q", "")
        if "SystemModstamp >" in soql:
            return JSONResponse(fixture("salesforce", "empty"))
        return JSONResponse(fixture("salesforce", "leads_page1" if "FROM Lead" in soql else "contacts"))

    async def salesforce_more(self, request: Request):
        await self._note(request)
        if not self._authorised(request):
            return JSONResponse(fixture("salesforce", "invalid_session"), 401)
        return JSONResponse(fixture("salesforce", "leads_page2"))
