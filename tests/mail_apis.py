"""Local stand-ins for the Gmail API and Microsoft Graph's sendMail, in the documented shapes:

- Gmail API reference, "Method: users.messages.send": `POST /gmail/v1/users/me/messages/send` with
  `{"raw": base64url}` answers a Message resource (`id`, `threadId`, `labelIds`); the media upload
  `POST /upload/gmail/v1/users/me/messages/send?uploadType=media` takes `message/rfc822`. Errors are
  `{"error": {"code", "message", "status"}}`; 429 carries `Retry-After`.
- Gmail API reference, "Method: users.threads.get": `GET /gmail/v1/users/me/threads/{id}?format=metadata
  &metadataHeaders=…` answers a Thread (`id`, `messages[]` oldest first, each with `payload.headers`
  limited to the headers asked for); an unknown id is 404. A message sent with `threadId` joins it.
- Microsoft Graph, "user: sendMail" (example "Send a new message using MIME format"): `POST
  /v1.0/me/sendMail`, `Content-Type: text/plain`, the MIME message base64-encoded; `202 Accepted`.
  Errors are `{"error": {"code", "message"}}`.

A bearer token is accepted when the OpenID stand-in issued it.
"""

from __future__ import annotations

import base64
import email
from email import policy

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from .standin import StandIn


class MailApiStandIn(StandIn):
    def __init__(self, issuer):
        self.issuer = issuer  # an OpenIdStandIn: its access tokens are the valid ones
        self.sent: list[tuple[str, email.message.EmailMessage]] = []  # (how, message) — the rep's Sent folder
        self.fail_next: list[tuple[int, dict, dict]] = []  # (status, headers, error body) to answer before accepting
        self.unauthorised = 0
        # the rep's Gmail inbox, for reading: (message id, raw bytes, the historyId that added it)
        self.inbox: list[tuple[str, bytes, int]] = []
        self.history_id = 1000
        self.oldest_history = 0  # a startHistoryId below this is "too old": 404
        self.page_size = 2
        self.received: dict[str, str] = {}  # Graph's receivedDateTime of each message
        self.subscriptions: dict[str, dict] = {}  # Graph change notification subscriptions by id
        self.threads: dict[str, list[dict]] = {}  # Gmail thread id → its messages' headers, oldest first
        self.sent_threads: list[str | None] = []  # the threadId each Gmail API send named
        super().__init__()
        self.app = self._build()

    def _authorised(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        ok = scheme == "Bearer" and token in self.issuer.access_tokens
        self.unauthorised += not ok
        return ok

    def _failure(self):
        if self.fail_next:
            status, headers, body = self.fail_next.pop(0)
            return JSONResponse(body, status, headers=headers)
        return None

    def deliver(self, raw: bytes) -> str:
        """New mail arrives in the rep's Gmail inbox."""
        self.history_id += 1
        message_id = f"in{self.history_id}"
        self.inbox.append((message_id, raw, self.history_id))
        self.received[message_id] = self.issuer.clock().strftime("%Y-%m-%dT%H:%M:%SZ")
        return message_id

    async def notify(self, message_id: str, *, client_state: str | None = None) -> list[int]:
        """Graph tells every subscription that a message was created ("Change notification" payload)."""
        answers = []
        async with httpx.AsyncClient(timeout=10) as client:
            for subscription in self.subscriptions.values():
                item = {
                    "subscriptionId": subscription["id"],
                    "subscriptionExpirationDateTime": subscription["expirationDateTime"],
                    "changeType": "created",
                    "resource": f"Users/rep/Messages/{message_id}",
                    "resourceData": {"@odata.type": "#Microsoft.Graph.Message", "id": message_id},
                    "clientState": client_state if client_state is not None else subscription.get("clientState"),
                    "tenantId": "9d2f6c1e-5b0a-4c3e-8f7a-2b1c0d9e8f7a",
                }
                answers.append((await client.post(subscription["notificationUrl"], json={"value": [item]})).status_code)
        return answers

    def _keep(self, how: str, raw: bytes) -> None:
        self.sent.append((how, email.message_from_bytes(raw, policy=policy.default)))

    def _build(self) -> FastAPI:
        app = FastAPI()
        unauthorised = {
            "error": {"code": 401, "message": "Request had invalid authentication credentials.", "status": "UNAUTHENTICATED"}
        }

        @app.post("/gmail/v1/users/me/messages/send")
        async def gmail_send(request: Request):
            if not self._authorised(request):
                return JSONResponse(unauthorised, 401)
            if failed := self._failure():
                return failed
            body = await request.json()
            self._keep("gmail", base64.urlsafe_b64decode(body["raw"]))
            thread = body.get("threadId")
            self.sent_threads.append(thread)
            if thread in self.threads:
                message = self.sent[-1][1]
                self.threads[thread].append({"Message-ID": message["Message-ID"], "References": message.get("References", "")})
            return {"id": f"m{len(self.sent)}", "threadId": thread or f"t{len(self.sent)}", "labelIds": ["SENT"]}

        @app.get("/gmail/v1/users/me/threads/{thread_id}")  # "Method: users.threads.get"
        async def gmail_thread(thread_id: str, request: Request):
            if not self._authorised(request):
                return JSONResponse(unauthorised, 401)
            if thread_id not in self.threads:
                return JSONResponse(
                    {"error": {"code": 404, "message": "Requested entity was not found.", "status": "NOT_FOUND"}}, 404
                )
            wanted = {h.lower() for h in request.query_params.getlist("metadataHeaders")}
            return {
                "id": thread_id,
                "historyId": str(self.history_id),
                "messages": [
                    {
                        "id": f"{thread_id}-{n}",
                        "threadId": thread_id,
                        "labelIds": ["INBOX"],
                        "payload": {
                            "mimeType": "multipart/alternative",
                            "headers": [{"name": k, "value": v} for k, v in headers.items() if k.lower() in wanted and v],
                        },
                    }
                    for n, headers in enumerate(self.threads[thread_id])
                ],
            }

        not_found = {"error": {"code": 404, "message": "Requested entity was not found.", "status": "NOT_FOUND"}}

        @app.get("/gmail/v1/users/me/profile")  # "Method: users.getProfile"
        async def gmail_profile(request: Request):
            if not self._authorised(request):
                return JSONResponse(unauthorised, 401)
            return {
                "emailAddress": "rep@gmail.test",
                "messagesTotal": len(self.inbox),
                "threadsTotal": len(self.inbox),
                "historyId": str(self.history_id),
            }

        @app.get("/gmail/v1/users/me/history")  # "Method: users.history.list"
        async def gmail_history(request: Request):
            if not self._authorised(request):
                return JSONResponse(unauthorised, 401)
            start = int(request.query_params["startHistoryId"])
            if start < self.oldest_history:
                return JSONResponse(not_found, 404)
            added = [(mid, hid) for mid, _, hid in self.inbox if hid > start]
            offset = int(request.query_params.get("pageToken", "0"))
            page = added[offset : offset + self.page_size]
            body = {
                "history": [
                    {
                        "id": str(hid),
                        "messages": [{"id": mid, "threadId": mid}],
                        "messagesAdded": [{"message": {"id": mid, "threadId": mid, "labelIds": ["INBOX", "UNREAD"]}}],
                    }
                    for mid, hid in page
                ],
                "historyId": str(self.history_id),
            }
            if offset + self.page_size < len(added):
                body["nextPageToken"] = str(offset + self.page_size)
            return body

        @app.get("/gmail/v1/users/me/messages")  # "Method: users.messages.list": newest first
        async def gmail_list(request: Request):
            if not self._authorised(request):
                return JSONResponse(unauthorised, 401)
            newest = list(reversed(self.inbox))[: int(request.query_params.get("maxResults", "100"))]
            return {"messages": [{"id": mid, "threadId": mid} for mid, _, _ in newest], "resultSizeEstimate": len(newest)}

        @app.get("/gmail/v1/users/me/messages/{message_id}")  # "Method: users.messages.get", format=raw
        async def gmail_get(message_id: str, request: Request):
            if not self._authorised(request):
                return JSONResponse(unauthorised, 401)
            found = next(((raw, hid) for mid, raw, hid in self.inbox if mid == message_id), None)
            if found is None or request.query_params.get("format") != "raw":
                return JSONResponse(not_found, 404)
            return {
                "id": message_id,
                "threadId": message_id,
                "historyId": str(found[1]),
                "raw": base64.urlsafe_b64encode(found[0]).decode().rstrip("="),
            }

        @app.post("/upload/gmail/v1/users/me/messages/send")
        async def gmail_upload(request: Request):
            if not self._authorised(request):
                return JSONResponse(unauthorised, 401)
            if request.query_params.get("uploadType") != "media" or request.headers.get("content-type") != "message/rfc822":
                return JSONResponse({"error": {"code": 400, "message": "Media type not supported"}}, 400)
            self._keep("gmail-upload", await request.body())
            return {"id": f"m{len(self.sent)}", "threadId": f"t{len(self.sent)}", "labelIds": ["SENT"]}

        @app.get("/v1.0/me/mailFolders/inbox/messages/delta")  # "message: delta"
        async def graph_delta(request: Request):
            if not self._authorised(request):
                return JSONResponse(
                    {"error": {"code": "InvalidAuthenticationToken", "message": "Access token has expired."}}, 401
                )
            query = request.query_params
            if "$skiptoken" in query:
                start, offset = map(int, query["$skiptoken"].split("-"))
            else:
                start, offset = int(query.get("$deltatoken", "0")), 0
                if "$deltatoken" in query and start < self.oldest_history:
                    return JSONResponse(
                        {"error": {"code": "SyncStateNotFound", "message": "The sync state generation is not found."}}, 410
                    )
            changed = self.inbox[start:]
            page = changed[offset : offset + self.page_size]
            base = f"{self.url}/v1.0/me/mailFolders/inbox/messages/delta"
            body = {"value": [{"id": mid, "receivedDateTime": self.received[mid]} for mid, _, _ in page]}
            if offset + self.page_size < len(changed):
                body["@odata.nextLink"] = f"{base}?$skiptoken={start}-{offset + self.page_size}"
            else:
                body["@odata.deltaLink"] = f"{base}?$deltatoken={len(self.inbox)}"
            return body

        @app.get("/v1.0/me/messages/{message_id}/$value")  # "Get MIME content of a message"
        async def graph_mime(message_id: str, request: Request):
            if not self._authorised(request):
                return JSONResponse(
                    {"error": {"code": "InvalidAuthenticationToken", "message": "Access token has expired."}}, 401
                )
            found = next((raw for mid, raw, _ in self.inbox if mid == message_id), None)
            if found is None:
                return JSONResponse(
                    {"error": {"code": "ErrorItemNotFound", "message": "The specified object was not found in the store."}}, 404
                )
            return Response(found, media_type="text/plain")

        @app.post("/v1.0/subscriptions")  # "Create subscription": validates the notificationUrl first
        async def graph_subscribe(request: Request):
            if not self._authorised(request):
                return JSONResponse(
                    {"error": {"code": "InvalidAuthenticationToken", "message": "Access token has expired."}}, 401
                )
            asked = await request.json()
            token = f"Validation: Testing client application reachability for subscription Request-Id: {len(self.subscriptions)}"
            async with httpx.AsyncClient(timeout=10) as client:
                answer = await client.post(
                    asked["notificationUrl"], params={"validationToken": token}, headers={"content-type": "text/plain"}
                )
            if answer.status_code != 200 or answer.text != token:
                return JSONResponse(
                    {
                        "error": {
                            "code": "InvalidRequest",
                            "message": "Subscription validation request failed. Response must exactly match validationToken query parameter.",
                        }
                    },
                    400,
                )
            subscription_id = f"sub-{len(self.subscriptions) + 1}"
            self.subscriptions[subscription_id] = {**asked, "id": subscription_id}
            return JSONResponse(
                {
                    "id": subscription_id,
                    "resource": asked["resource"],
                    "changeType": asked["changeType"],
                    "notificationUrl": asked["notificationUrl"],
                    "expirationDateTime": asked["expirationDateTime"],
                    "clientState": asked.get("clientState"),
                },
                201,
            )

        @app.patch("/v1.0/subscriptions/{subscription_id}")  # "Update subscription": a new expirationDateTime
        async def graph_renew(subscription_id: str, request: Request):
            if not self._authorised(request):
                return JSONResponse(
                    {"error": {"code": "InvalidAuthenticationToken", "message": "Access token has expired."}}, 401
                )
            if subscription_id not in self.subscriptions:
                return JSONResponse({"error": {"code": "ResourceNotFound", "message": "The object was not found."}}, 404)
            self.subscriptions[subscription_id]["expirationDateTime"] = (await request.json())["expirationDateTime"]
            return self.subscriptions[subscription_id]

        @app.post("/v1.0/me/sendMail")
        async def graph_send(request: Request):
            if not self._authorised(request):
                return JSONResponse(
                    {"error": {"code": "InvalidAuthenticationToken", "message": "Access token has expired."}}, 401
                )
            if failed := self._failure():
                return failed
            if not request.headers.get("content-type", "").startswith("text/plain"):
                return JSONResponse({"error": {"code": "RequestBodyRead", "message": "Content-Type must be text/plain"}}, 400)
            self._keep("graph", base64.b64decode(await request.body()))
            return Response(status_code=202)

        return app
