"""The tasks API on both databases: windows in the assignee's zone, bad input, workspace scoping, live."""

from datetime import UTC, datetime

import pytest

from .conftest import make_rep, ready_stream


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request) -> str:
    return request.param


async def create(client, rep, **body):
    body.setdefault("type", "call")
    body.setdefault("title", "Call back")
    body.setdefault("due_date", "2026-11-26")
    response = await client.post("/api/v1/tasks", json=body, headers=rep.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def titles(client, rep, query: str) -> list[str]:
    response = await client.get(f"/api/v1/tasks?{query}", headers=rep.headers)
    assert response.status_code == 200, response.text
    return [t["title"] for t in response.json()["tasks"]]


async def test_create_read_change_complete_delete(server, rep, clock):
    async with server.client() as client:
        person = (
            await client.post(
                "/api/v1/people", json={"email": "paul@prospect.test", "phone": "+1 415 555 0100"}, headers=rep.headers
            )
        ).json()
        task = await create(
            client, rep, title="Call Paul", person_id=person["id"], due_time="14:30", priority="high", notes="Pricing"
        )
        assert task["assignee"]["id"] == rep.id and task["status"] == "open" and task["completed_at"] is None
        assert task["due_at"] == "2026-11-26T14:30:00Z"  # London is on UTC in November
        assert task["person"]["tel_url"] == "tel:+14155550100"
        clock.advance(hours=1)
        changed = (
            await client.patch(
                f"/api/v1/tasks/{task['id']}", json={"title": "Call Paul again", "due_time": None}, headers=rep.headers
            )
        ).json()
        assert changed["title"] == "Call Paul again" and changed["due_time"] is None and changed["notes"] == "Pricing"
        done = (await client.patch(f"/api/v1/tasks/{task['id']}", json={"status": "done"}, headers=rep.headers)).json()
        assert done["status"] == "done" and done["completed_at"] == "2026-11-26T10:00:00Z"
        assert await titles(client, rep, "status=open") == []
        assert await titles(client, rep, "status=done") == ["Call Paul again"]
        reopened = (await client.patch(f"/api/v1/tasks/{task['id']}", json={"status": "open"}, headers=rep.headers)).json()
        assert reopened["completed_at"] is None
        assert (await client.delete(f"/api/v1/tasks/{task['id']}", headers=rep.headers)).status_code == 204
        assert (await client.get(f"/api/v1/tasks/{task['id']}", headers=rep.headers)).status_code == 404


async def test_due_filters_and_overdue(server, rep, clock):
    async with server.client() as client:
        for title, day, at in [
            ("yesterday", "2026-11-25", None),
            ("this morning", "2026-11-26", "08:00"),
            ("this afternoon", "2026-11-26", "15:00"),
            ("today", "2026-11-26", None),
            ("tomorrow", "2026-11-27", None),
            ("in six days", "2026-12-02", None),
            ("in seven days", "2026-12-03", None),
        ]:
            await create(client, rep, title=title, due_date=day, due_time=at)
        assert await titles(client, rep, "due=today") == ["today", "this morning", "this afternoon"]
        assert await titles(client, rep, "due=tomorrow") == ["tomorrow"]
        assert await titles(client, rep, "due=today_and_tomorrow") == ["today", "this morning", "this afternoon", "tomorrow"]
        assert await titles(client, rep, "due=next_7_days") == [
            "today",
            "this morning",
            "this afternoon",
            "tomorrow",
            "in six days",
        ]
        assert await titles(client, rep, "from=2026-11-25&to=2026-11-25") == ["yesterday"]
        assert await titles(client, rep, "overdue=true") == ["yesterday", "this morning"]  # 09:00 now
        listed = (await client.get("/api/v1/tasks?due=today", headers=rep.headers)).json()
        assert [t["overdue"] for t in listed["tasks"]] == [False, True, False]
        assert listed["window"] == {
            "from": "2026-11-26",
            "to": "2026-11-26",
            "starts_at": "2026-11-26T00:00:00Z",
            "ends_at": "2026-11-27T00:00:00Z",
            "hours": 24.0,
        }


@pytest.mark.parametrize(
    "zone, now, today, hours",
    [
        ("America/New_York", datetime(2026, 3, 8, 12, tzinfo=UTC), "2026-03-08", 23),
        ("America/New_York", datetime(2026, 11, 1, 12, tzinfo=UTC), "2026-11-01", 25),
        ("Australia/Melbourne", datetime(2026, 4, 5, 1, tzinfo=UTC), "2026-04-05", 25),
        ("Australia/Melbourne", datetime(2026, 10, 4, 1, tzinfo=UTC), "2026-10-04", 23),
        ("Pacific/Kiritimati", datetime(2026, 11, 26, 12, tzinfo=UTC), "2026-11-27", 24),
    ],
)
async def test_today_is_the_assignees_day(server, engine, clock, zone, now, today, hours):
    rep = make_rep(engine, clock, "zoe@seller.test", timezone=zone)
    clock.now = now
    async with server.client() as client:
        await create(client, rep, title="due today there", due_date=today)
        listed = (await client.get("/api/v1/tasks?due=today", headers=rep.headers)).json()
    assert listed["today"] == today and listed["window"]["hours"] == hours
    assert [t["title"] for t in listed["tasks"]] == ["due today there"]


async def test_a_colleagues_zone_decides_their_today(server, rep, engine, clock):
    colleague = make_rep(engine, clock, "kim@seller.test", timezone="Pacific/Kiritimati")
    clock.now = datetime(2026, 11, 26, 12, tzinfo=UTC)  # the 27th in Kiritimati
    async with server.client() as client:
        task = await create(client, rep, title="for Kim", due_date="2026-11-27", assignee_id=colleague.id)
        assert await titles(client, rep, "due=today") == []  # by default: mine only
        assert await titles(client, rep, f"due=today&assignee_id={colleague.id}") == ["for Kim"]
        assert await titles(client, colleague, "due=today") == ["for Kim"]
        assert task["created_by"] == rep.id


BAD = [
    ({"type": "meeting"}, "type"),
    ({"due_date": "2026-02-30"}, "due_date"),
    ({"due_date": "26/11/2026"}, "due_date"),
    ({"due_time": "25:00"}, "due_time"),
    ({"title": "x" * 501}, "title"),
    ({"title": "   "}, "title"),
    ({"priority": "urgent"}, "priority"),
    ({"person_id": "paul"}, "person_id"),
    ({"colour": "red"}, "colour"),
]


@pytest.mark.parametrize("change, field", BAD)
async def test_bad_input_is_a_422_naming_the_field_and_changes_nothing(server, rep, change, field):
    body = {"type": "call", "title": "Call", "due_date": "2026-11-26", **change}
    async with server.client() as client:
        response = await client.post("/api/v1/tasks", json=body, headers=rep.headers)
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["loc"][-1] == field
        assert await titles(client, rep, "status=all") == []


@pytest.mark.parametrize(
    "query, field",
    [
        ("from=2026-12-01&to=2026-11-01", "from"),
        ("from=2026-11-01", "to"),
        ("due=yesterday", "due"),
        ("due=today&from=2026-11-01&to=2026-11-02", "due"),
        ("status=closed", "status"),
        ("from=2026-13-01&to=2026-12-01", "from"),
    ],
)
async def test_bad_queries(server, rep, query, field):
    async with server.client() as client:
        response = await client.get(f"/api/v1/tasks?{query}", headers=rep.headers)
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["query", field]


async def test_other_workspaces_are_invisible_and_untouchable(server, rep, engine, clock):
    stranger = make_rep(engine, clock, "sam@other.test", workspace="Other Co")
    async with server.client() as client:
        theirs = (await client.post("/api/v1/people", json={"email": "x@their-prospect.test"}, headers=stranger.headers)).json()
        mine = await create(client, rep, title="mine")
        for body, field in [({"person_id": theirs["id"]}, "person_id"), ({"assignee_id": stranger.id}, "assignee_id")]:
            response = await client.post(
                "/api/v1/tasks", json={"type": "call", "title": "t", "due_date": "2026-11-26", **body}, headers=rep.headers
            )
            assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", field]
        response = await client.patch(f"/api/v1/tasks/{mine['id']}", json={"assignee_id": stranger.id}, headers=rep.headers)
        assert response.status_code == 422
        assert (await client.get(f"/api/v1/tasks/{mine['id']}", headers=stranger.headers)).status_code == 404
        assert (
            await client.patch(f"/api/v1/tasks/{mine['id']}", json={"status": "done"}, headers=stranger.headers)
        ).status_code == 404
        assert (await client.delete(f"/api/v1/tasks/{mine['id']}", headers=stranger.headers)).status_code == 404
        assert (await client.get(f"/api/v1/tasks?assignee_id={rep.id}", headers=stranger.headers)).status_code == 422
        assert await titles(client, stranger, "status=all") == []
        assert (await client.get(f"/api/v1/tasks/{mine['id']}", headers=rep.headers)).json()["status"] == "open"


async def test_task_changes_reach_the_assignees_open_window(server, rep):
    async with server.client() as client:
        async with ready_stream(client, rep.headers) as reader:
            task = await create(client, rep)
            assert (await reader.next_event("changed"))["data"] == '{"what":"tasks"}'
            await client.patch(f"/api/v1/tasks/{task['id']}", json={"status": "done"}, headers=rep.headers)
            assert (await reader.next_event("changed"))["data"] == '{"what":"tasks"}'
