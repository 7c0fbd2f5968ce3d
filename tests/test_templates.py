"""Saved templates: checked and cleaned on save, the author's own or shared with the workspace,
changed only by the author (or an admin once shared), never visible across workspaces; and the
HTML clean-up itself."""

from __future__ import annotations

from sqlalchemy import func, select

from livefeed.db.tables import templates
from livefeed.pipeline.richtext import clean_html, is_blank

from .conftest import make_rep

FOLLOW_UP = {
    "name": "Follow-up",
    "subject": "Following up, {{first_name}}",
    "html": '<p>Hi {{first_name}},</p><p>The <b>deck</b>: <a href="https://example.com/deck">here</a></p>',
}


def count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(templates)).scalar()


async def test_templates_are_checked_cleaned_and_scoped(server, rep, engine, clock):
    olga = make_rep(engine, clock, "olga@seller.test")  # a rep of the same workspace (Rita is its admin)
    sam = make_rep(engine, clock, "sam@elsewhere.test", workspace="Elsewhere")
    async with server.client() as client:
        bad = [
            await client.post("/api/v1/templates", json={**FOLLOW_UP, **change}, headers=rep.headers)
            for change in (
                {"name": " "},
                {"subject": "Hi\r\nBcc: x@evil.test"},
                {"subject": "Hi {{nickname}}"},
                {"html": "<p><br></p>"},
                {"html": "<p>{{favourite_colour}}</p>"},
            )
        ]
        created = await client.post(
            "/api/v1/templates",
            headers=rep.headers,
            json={
                **FOLLOW_UP,
                "html": FOLLOW_UP["html"]
                + '<script>alert(1)</script><img src=x onerror="alert(1)"><a href="javascript:alert(1)">x</a>',
            },
        )
        private = created.json()
        shared = (
            await client.post("/api/v1/templates", json={**FOLLOW_UP, "name": "Intro", "shared": True}, headers=olga.headers)
        ).json()
        rita_sees = (await client.get("/api/v1/templates", headers=rep.headers)).json()["templates"]
        olga_sees = (await client.get("/api/v1/templates", headers=olga.headers)).json()["templates"]
        sam_sees = (await client.get("/api/v1/templates", headers=sam.headers)).json()["templates"]
        sam_gets = await client.get(f"/api/v1/templates/{shared['id']}", headers=sam.headers)
        olga_changes_ritas = await client.patch(f"/api/v1/templates/{private['id']}", json={"name": "Mine"}, headers=olga.headers)
        null = await client.patch(f"/api/v1/templates/{private['id']}", json={"name": None}, headers=rep.headers)
        renamed = await client.patch(
            f"/api/v1/templates/{private['id']}", json={"name": "First follow-up", "shared": True}, headers=rep.headers
        )
        admin_edits_shared = await client.patch(
            f"/api/v1/templates/{shared['id']}", json={"subject": "Intro"}, headers=rep.headers
        )
        olga_deletes_ritas = await client.delete(f"/api/v1/templates/{private['id']}", headers=olga.headers)
        deleted = await client.delete(f"/api/v1/templates/{private['id']}", headers=rep.headers)
        gone = await client.get(f"/api/v1/templates/{private['id']}", headers=rep.headers)
    assert [r.status_code for r in bad] == [422] * 5
    assert [r.json()["detail"][0]["loc"][1] for r in bad] == ["name", "subject", "subject", "html", "html"]
    assert created.status_code == 201 and private["fields"] == ["first_name"] and private["mine"] is True
    assert "<script" not in private["html"] and "onerror" not in private["html"] and "javascript:" not in private["html"]
    assert '<a href="https://example.com/deck">here</a>' in private["html"] and "<b>deck</b>" in private["html"]
    assert [t["name"] for t in rita_sees] == ["Follow-up", "Intro"]
    assert [t["name"] for t in olga_sees] == ["Intro"]  # Rita's own stays hers
    assert sam_sees == [] and sam_gets.status_code == 404
    assert olga_changes_ritas.status_code == 404  # not shared: not even visible to her
    assert null.status_code == 422 and null.json()["detail"][0]["loc"] == ["body", "name"]
    assert renamed.json()["name"] == "First follow-up" and renamed.json()["shared"] is True
    assert admin_edits_shared.status_code == 200 and admin_edits_shared.json()["subject"] == "Intro"
    assert olga_deletes_ritas.status_code == 403
    assert deleted.status_code == 204 and gone.status_code == 404 and count(engine) == 1


def test_clean_html_keeps_what_the_editor_makes_and_drops_the_rest():
    made = (
        "<p>Hi <b>A</b> <i>B</i> <u>C</u> <s>D</s></p><ul><li>one</li></ul><ol><li>two</li></ol>"
        '<blockquote>q</blockquote><p><a href="mailto:a@b.test">m</a> <a href="tel:+441">t</a></p>'
    )
    assert clean_html(made) == made
    assert clean_html('<p style="color:red" class="x" onclick="y">z</p>') == "<p>z</p>"
    assert clean_html("<form><input name=a></form><iframe src=x></iframe><p>k</p>") == "<p>k</p>"
    assert clean_html('<a href="data:text/html,x">d</a>') == "<a>d</a>"
    assert is_blank("<p><br></p>") and is_blank("") and not is_blank("<p>x</p>")


def test_autolink_links_bare_addresses_outside_links_only():
    from livefeed.pipeline.richtext import autolink

    assert autolink("<p>See https://example.com/deck. Or (https://a.test/?a=1&amp;b=2).</p>") == (
        '<p>See <a href="https://example.com/deck">https://example.com/deck</a>. '
        'Or (<a href="https://a.test/?a=1&amp;b=2">https://a.test/?a=1&amp;b=2</a>).</p>'
    )
    linked = '<p><a href="https://x.test">https://x.test/y</a> <b>mailto:me@x.test</b></p>'
    assert autolink(linked) == linked


async def test_a_rep_has_at_most_max_templates(server, rep, monkeypatch):
    from livefeed.actions import templates as email_templates

    monkeypatch.setattr(email_templates, "MAX_TEMPLATES", 2)
    async with server.client() as client:
        answers = [
            await client.post("/api/v1/templates", json={**FOLLOW_UP, "name": f"T{n}"}, headers=rep.headers) for n in range(3)
        ]
    assert [a.status_code for a in answers] == [201, 201, 422]
    assert "at most 2 templates each" in answers[2].json()["detail"][0]["msg"]
