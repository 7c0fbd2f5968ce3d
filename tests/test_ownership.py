"""Inside a workspace: a rep sees and changes their own tasks and the people they own (or nobody
owns); admins see and change all; reassigning is the owner's or an admin's act."""

from __future__ import annotations

from .conftest import make_rep


async def test_a_rep_cannot_read_change_reassign_or_delete_a_colleagues_task(server, rep, engine, clock):
    # rita (rep) is the workspace's first user and so its admin; olga and kim are reps
    olga = make_rep(engine, clock, "olga@seller.test")
    kim = make_rep(engine, clock, "kim@seller.test")
    async with server.client() as client:
        made = await client.post(
            "/api/v1/tasks", json={"type": "call", "title": "Olga's call", "due_date": "2026-11-27"}, headers=olga.headers
        )
        task_id = made.json()["id"]
        url = f"/api/v1/tasks/{task_id}"
        kim_reads = await client.get(url, headers=kim.headers)
        kim_changes = await client.patch(url, json={"title": "mine now"}, headers=kim.headers)
        kim_takes = await client.patch(url, json={"assignee_id": kim.id}, headers=kim.headers)
        kim_deletes = await client.delete(url, headers=kim.headers)
        kim_lists = await client.get(f"/api/v1/tasks?assignee_id={olga.id}", headers=kim.headers)
        admin_reads = await client.get(url, headers=rep.headers)
        olga_hands_over = await client.patch(url, json={"assignee_id": kim.id}, headers=olga.headers)
        kim_now = await client.get(url, headers=kim.headers)
        admin_deletes = await client.delete(url, headers=rep.headers)
    assert made.status_code == 201
    assert [r.status_code for r in (kim_reads, kim_changes, kim_takes, kim_deletes)] == [404, 404, 404, 404]
    assert kim_lists.status_code == 403
    assert admin_reads.status_code == 200 and admin_reads.json()["title"] == "Olga's call"
    assert olga_hands_over.status_code == 200 and kim_now.json()["assignee"]["id"] == kim.id
    assert admin_deletes.status_code == 204


async def test_a_rep_cannot_take_over_or_change_a_colleagues_person(server, rep, engine, clock):
    olga = make_rep(engine, clock, "olga@seller.test")
    kim = make_rep(engine, clock, "kim@seller.test")
    async with server.client() as client:
        paul = (
            await client.post(
                "/api/v1/people", json={"email": "paul@prospect.test", "owner_email": olga.email}, headers=olga.headers
            )
        ).json()
        takeover = await client.post(
            "/api/v1/people", json={"email": "paul@prospect.test", "owner_email": kim.email}, headers=kim.headers
        )
        edit = await client.patch(f"/api/v1/people/{paul['id']}", json={"title": "CEO"}, headers=kim.headers)
        untrack = await client.patch(f"/api/v1/people/{paul['id']}", json={"do_not_track": True}, headers=kim.headers)
        seen = await client.get(f"/api/v1/people/{paul['id']}", headers=kim.headers)  # people are the company's
        unowned = (await client.post("/api/v1/people", json={"email": "nina@prospect.test"}, headers=olga.headers)).json()
        claimed = await client.patch(f"/api/v1/people/{unowned['id']}", json={"owner_email": kim.email}, headers=kim.headers)
        handed = await client.patch(f"/api/v1/people/{paul['id']}", json={"owner_email": kim.email}, headers=olga.headers)
        admin = await client.patch(f"/api/v1/people/{paul['id']}", json={"owner_email": olga.email}, headers=rep.headers)
    assert [r.status_code for r in (takeover, edit, untrack)] == [403, 403, 403]
    assert seen.status_code == 200 and seen.json()["owner"]["email"] == olga.email and seen.json()["title"] is None
    assert seen.json()["do_not_track"] is False
    assert claimed.status_code == 200 and claimed.json()["owner"]["email"] == kim.email
    assert handed.status_code == 200 and admin.status_code == 200 and admin.json()["owner"]["email"] == olga.email


async def test_ids_beyond_64_bits_are_refused_not_a_server_error(server, rep):
    huge = "1343546490685962101719040"
    async with server.client() as client:
        answers = [
            await client.get(f"/api/v1/tasks/{huge}", headers=rep.headers),
            await client.patch(f"/api/v1/people/{huge}", json={"title": "x"}, headers=rep.headers),
            await client.get(f"/api/v1/feed?before={huge}", headers=rep.headers),
            await client.get(f"/api/v1/tasks?assignee_id={huge}", headers=rep.headers),
            await client.post(
                "/api/v1/tasks",
                json={"type": "call", "title": "t", "due_date": "2026-11-27", "person_id": int(huge)},
                headers=rep.headers,
            ),
            await client.get(f"/api/v1/feed/stream?after={huge}", headers=rep.headers),
            await client.get(f"/app/people/{huge}"),
        ]
    for answer in answers:
        assert answer.status_code in (303, 404, 422), (answer.request.url, answer.status_code, answer.text)
