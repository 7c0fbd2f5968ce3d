"""POST /api/v1/feed/items on both databases: a pushed row, idempotent by key, plain text, live."""

import pytest

from .conftest import make_rep, ready_stream


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request) -> str:
    return request.param


ITEM = {
    "person_email": "Paul@Prospect.test",
    "message": "Signed the NDA <script>alert(1)</script>",
    "url": "https://crm.test/deals/42",
    "idempotency_key": "deal-42-nda",
}


async def feed(client, rep):
    return (await client.get("/api/v1/feed", headers=rep.headers)).json()["events"]


async def test_a_pushed_item_is_a_live_row_and_a_repeated_key_records_nothing(server, rep, engine, clock):
    colleague = make_rep(engine, clock, "olga@seller.test")
    async with server.client() as client:
        async with ready_stream(client, rep.headers) as reader:
            first = await client.post("/api/v1/feed/items", json=ITEM, headers=rep.headers)
            frame = await reader.next_event("hit")
        assert first.status_code == 201
        item = first.json()
        assert (item["kind"], item["message"], item["link_url"], item["person"]["email"]) == (
            "item",
            ITEM["message"],
            ITEM["url"],
            "paul@prospect.test",
        )
        assert frame["id"] == str(item["id"]) and '"kind":"item"' in frame["data"]
        again = await client.post("/api/v1/feed/items", json={**ITEM, "message": "changed"}, headers=rep.headers)
        assert again.status_code == 200 and again.json() == item
        theirs = await client.post("/api/v1/feed/items", json=ITEM, headers=colleague.headers)  # keys are per rep
        assert theirs.status_code == 201 and theirs.json()["id"] != item["id"]
        dated = await client.post(
            "/api/v1/feed/items",
            json={"person_email": "ann@prospect.test", "message": "Webinar", "occurred_at": "2026-11-25T16:30:00+01:00"},
            headers=rep.headers,
        )
        assert dated.status_code == 201 and dated.json()["at"] == "2026-11-25T15:30:00Z"
        assert [e["id"] for e in await feed(client, rep)] == [dated.json()["id"], item["id"]]
        assert [e["id"] for e in await feed(client, colleague)] == [theirs.json()["id"]]


@pytest.mark.parametrize(
    "change, field",
    [
        ({"person_email": "paul"}, "person_email"),
        ({"message": ""}, "message"),
        ({"message": "   "}, "message"),
        ({"message": "x" * 1001}, "message"),
        ({"url": "javascript:alert(1)"}, "url"),
        ({"url": "https://"}, "url"),
        ({"occurred_at": "2026-11-26T10:00:00"}, "occurred_at"),
        ({"occurred_at": "2026-12-26T10:00:00Z"}, "occurred_at"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"idempotency_key": "k" * 201}, "idempotency_key"),
        ({"colour": "red"}, "colour"),
    ],
)
async def test_bad_items_are_422_and_record_nothing(server, rep, change, field):
    async with server.client() as client:
        response = await client.post("/api/v1/feed/items", json={**ITEM, **change}, headers=rep.headers)
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["loc"][-1] == field
        assert await feed(client, rep) == []
