"""The Marketo webhook and the purple rows: secret, validation, idempotency, 503 when it cannot
store; people not yet in LiveFeed and the down-arrow's add."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from livefeed.core.marketo import read_hook
from livefeed.core.model import Invalid
from livefeed.db.tables import events, people

from .conftest import ready_stream, send


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request) -> str:
    return request.param


MOMENT = {
    "type": "interesting_moment",
    "moment_type": "Web",
    "description": "Viewed pricing 3 times",
    "activity_id": "im-1",
    "lead": {
        "id": 1001,
        "email": "Paul@Prospect.test",
        "firstName": "Paul",
        "lastName": "Smith",
        "company": "Prospect Inc",
        "leadScore": "40",
    },
}


async def hook(client, rep, secret, body, **headers):
    url = (await client.get("/api/v1/workspace", headers=rep.headers)).json()["marketo_webhook"]["url"]
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await client.post(
        url.replace(str(client.base_url), ""),
        content=content,
        headers={"content-type": "application/json", **({"x-livefeed-secret": secret} if secret else {}), **headers},
    )


async def new_secret(client, rep) -> str:
    answer = await client.post("/api/v1/workspace/marketo-webhook-secret", headers=rep.headers)
    assert answer.status_code == 200
    return answer.json()["secret"]


async def test_a_moment_reaches_the_owner_live_and_a_replay_records_nothing(server, rep):
    async with server.client() as client:
        await client.post("/api/v1/people", json={"email": "paul@prospect.test", "owner_email": rep.email}, headers=rep.headers)
        secret = await new_secret(client, rep)
        async with ready_stream(client, rep.headers) as reader:
            first = await hook(client, rep, secret, MOMENT)
            frame = await reader.next_event("hit")
        again = await hook(client, rep, secret, MOMENT)
        rows = (await client.get("/api/v1/feed", headers=rep.headers)).json()["events"]
    assert first.status_code == 200 and first.json()["recorded"] is True
    assert again.status_code == 200 and again.json() == {**first.json(), "recorded": False, "event_id": None, "duplicate": True}
    data = json.loads(frame["data"])
    assert (data["kind"], data["class"], data["reason"], data["message"]) == (
        "moment",
        "marketing",
        "Interesting Moment (Web)",
        "Viewed pricing 3 times",
    )
    assert data["person"]["in_livefeed"] is True
    assert [r["id"] for r in rows] == [data["id"]]


async def test_the_webhook_needs_its_secret_and_a_well_formed_body(server, rep):
    async with server.client() as client:
        assert (await hook(client, rep, "anything", MOMENT)).status_code == 401  # no secret set yet
        secret = await new_secret(client, rep)
        assert (await hook(client, rep, None, MOMENT)).status_code == 401
        assert (await hook(client, rep, secret + "x", MOMENT)).status_code == 401
        assert (await client.post("/hooks/marketo/nope", content=b"{}", headers={"x-livefeed-secret": secret})).status_code == 404
        assert (await client.get("/hooks/marketo/nope")).status_code == 405
        bad = {
            b"not json": ["body"],
            json.dumps({**MOMENT, "moment_type": "Phone"}).encode(): ["body", "moment_type"],
            json.dumps({**MOMENT, "lead": {"email": "nobody"}}).encode(): ["body", "lead", "email"],
            json.dumps({**MOMENT, "lead": {**MOMENT["lead"], "leadScore": "lots"}}).encode(): ["body", "lead", "leadScore"],
            json.dumps({**MOMENT, "occurred_at": "2026-11-26 10:00"}).encode(): ["body", "occurred_at"],
            json.dumps({**MOMENT, "surprise": 1}).encode(): ["body", "surprise"],
            json.dumps({**MOMENT, "url": "javascript:alert(1)"}).encode(): ["body", "url"],
        }
        for body, loc in bad.items():
            answer = await hook(client, rep, secret, body)
            assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == loc, (body, answer.text)
        too_big = await hook(client, rep, secret, b"{" + b" " * 70_000 + b"}")
        assert too_big.status_code == 413
    with server.runtime.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(events)).scalar() == 0
        assert conn.execute(select(func.count()).select_from(people)).scalar() == 0  # nothing changed


async def test_503_when_it_cannot_store_so_marketo_retries(server, rep, monkeypatch):
    async with server.client() as client:
        secret = await new_secret(client, rep)

        async def broken(job):
            raise RuntimeError("disk full")

        monkeypatch.setattr(server.runtime.recorder, "write_events", broken)
        answer = await hook(client, rep, secret, MOMENT)
    assert answer.status_code == 503 and answer.headers["retry-after"] == "5"


async def test_a_score_change_feeds_the_target_list(server, rep):
    async with server.client() as client:
        await client.post(
            "/api/v1/people",
            json={"email": "paul@prospect.test", "owner_email": rep.email, "lead_score": 40},
            headers=rep.headers,
        )
        secret = await new_secret(client, rep)
        answer = await hook(
            client, rep, secret, {"type": "score_change", "lead": {"email": "paul@prospect.test", "leadScore": 72}}
        )
        targets = (await client.get("/api/v1/targets", headers=rep.headers)).json()["people"]
        rows = (await client.get("/api/v1/feed", headers=rep.headers)).json()["events"]
    assert answer.status_code == 200 and answer.json()["recorded"] is False
    assert [(t["email"], t["score"]) for t in targets] == [("paul@prospect.test", 72)]
    assert [(r["kind"], r["score"]) for r in rows] == [("score", {"old": 40, "new": 72})]


async def test_someone_not_in_livefeed_shows_purple_and_the_down_arrow_adds_them(server, rep):
    async with server.client() as client:
        await send(client, rep, to=["paul@prospect.test"])
        secret = await new_secret(client, rep)
        # A colleague of Paul's fills out a form; Rita is named as the lead's owner in Marketo.
        body = {
            "type": "form_fill",
            "description": "Contact Us - Enterprise",
            "owner_email": rep.email,
            "lead": {
                "id": 2002,
                "email": "anna@prospect.test",
                "firstName": "Anna",
                "lastName": "Berg",
                "phone": "+1 415 555 0101",
            },
        }
        answer = await hook(client, rep, secret, body)
        [row] = [r for r in (await client.get("/api/v1/feed", headers=rep.headers)).json()["events"] if r["kind"] == "form"]
        person_id = row["person"]["id"]
        before = (await client.get(f"/api/v1/people/{person_id}", headers=rep.headers)).json()
        added = await client.post(f"/api/v1/people/{person_id}/add", headers=rep.headers)
        replayed = [r for r in (await client.get("/api/v1/feed", headers=rep.headers)).json()["events"] if r["kind"] == "form"]
        other = await client.post("/api/v1/people/999999/add", headers=rep.headers)
    assert answer.json()["recorded"] is True
    assert row["person"]["in_livefeed"] is False and row["person"]["name"] == "Anna Berg"
    assert before["in_livefeed"] is False and before["marketo_id"] == "2002" and before["tel_url"] == "tel:+14155550101"
    assert added.status_code == 200 and added.json()["in_livefeed"] is True and added.json()["added_at"]
    assert replayed[0]["person"]["in_livefeed"] is True
    assert other.status_code == 404


async def test_unassigned_engagement_is_kept_on_the_person_but_shown_to_nobody(server, rep):
    async with server.client() as client:
        secret = await new_secret(client, rep)
        answer = await hook(client, rep, secret, {**MOMENT, "lead": {"email": "stranger@elsewhere.test"}})
        rows = (await client.get("/api/v1/feed", headers=rep.headers)).json()["events"]
    assert answer.json()["unassigned"] is True and answer.json()["person_id"] and rows == []


def test_read_hook_maps_marketo_fields_and_keys_replays(clock):
    engagement = read_hook(json.dumps(MOMENT).encode(), clock())
    assert engagement.email == "paul@prospect.test" and engagement.key == "mkto-hook:im-1"
    assert engagement.person == {
        "first_name": "Paul",
        "last_name": "Smith",
        "company": "Prospect Inc",
        "lead_score": 40,
        "marketo_id": "1001",
    }
    without_id = {k: v for k, v in MOMENT.items() if k != "activity_id"}
    assert read_hook(json.dumps(without_id).encode(), clock()).key == read_hook(json.dumps(without_id).encode(), clock()).key
    with pytest.raises(Invalid) as caught:
        read_hook(json.dumps({**MOMENT, "description": ""}).encode(), clock())
    assert caught.value.field == "description"


async def test_a_late_or_replayed_delivery_never_takes_a_score_back_in_time(server, rep, clock):
    def moment(activity: str, at: str, score: int) -> dict:
        return {**MOMENT, "activity_id": activity, "occurred_at": at, "lead": {**MOMENT["lead"], "leadScore": score}}

    async with server.client() as client:
        await client.post("/api/v1/people", json={"email": "paul@prospect.test", "owner_email": rep.email}, headers=rep.headers)
        secret = await new_secret(client, rep)
        score = lambda: client.get("/api/v1/targets", headers=rep.headers)  # noqa: E731
        await hook(client, rep, secret, moment("im-10", "2026-11-26T08:50:00Z", 80))
        after_new = (await score()).json()["people"]
        late = await hook(client, rep, secret, moment("im-05", "2026-11-26T08:45:00Z", 30))  # sent earlier, arrived later
        replay = await hook(client, rep, secret, moment("im-10", "2026-11-26T08:50:00Z", 80))
        old_replay = await hook(client, rep, secret, moment("im-01", "2026-11-26T08:40:00Z", 50))
        after_late = (await score()).json()["people"]
        api_late = await client.post(
            "/api/v1/people",
            headers=rep.headers,
            json={"email": "paul@prospect.test", "lead_score": 10, "title": "Intern", "as_of": "2026-11-26T08:30:00Z"},
        )
        newer = await hook(client, rep, secret, moment("im-20", "2026-11-26T08:55:00Z", 90))
        final = (await score()).json()["people"]
        bad = await client.post("/api/v1/people", headers=rep.headers, json={"email": "paul@prospect.test", "as_of": "yesterday"})
    assert [p["score"] for p in after_new] == [80]
    assert late.json()["recorded"] is True and replay.json()["duplicate"] is True and old_replay.status_code == 200
    assert [p["score"] for p in after_late] == [80]  # neither the late one nor the replays moved it
    assert api_late.status_code == 200 and api_late.json()["lead_score"] == 80 and api_late.json()["title"] is None
    assert newer.json()["recorded"] is True and [p["score"] for p in final] == [90]
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "as_of"
