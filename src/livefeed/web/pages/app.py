"""HTML pages: sign-in, the web app (compose, sent mail, outbox) and the Live Feed window."""

from __future__ import annotations

import asyncio
import html
import re
from datetime import timedelta
from email import message_from_string, policy
from functools import partial
from pathlib import Path
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from ... import actions
from ...actions import people as people_actions
from ...actions import tasks as task_actions
from ...actions.changes import commit
from ...core import taskdates
from ...core.model import Invalid
from ...core.netaddr import client_ip
from ...db import queries
from ...edge.tracking import SELF_COOKIE
from ...pipeline.richtext import autolink, clean_html, is_blank
from ..api.feed import IdPath
from ..auth import CSRF_COOKIE, SESSION_COOKIE, check_csrf, csrf_token, forget_session, page_user, runtime, text_form

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent.parent / "templates"))
SELF_COOKIE_DAYS = 365


def render(request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
    context.setdefault("csrf", csrf_token(request))
    response = templates.TemplateResponse(request, name, context, status_code=status)
    new = getattr(request.state, "new_csrf", None)
    if new:
        response.set_cookie(CSRF_COOKIE, new, httponly=True, samesite="strict", secure=runtime(request).settings.secure_cookies)
    return response


def to_signin(then: str | None = None) -> RedirectResponse:
    """To the sign-in page; `then` (a local path) is where signing in returns to."""
    then = local_path(then)
    return RedirectResponse("/signin" + (f"?{urlencode({'next': then})}" if then != HOME else ""), status_code=303)


HOME = "/app"
_LOCAL = re.compile(r"/(?![/\\])[A-Za-z0-9/_.~%?=&+:@!$'()*,;-]*")


def local_path(value: str | None) -> str:
    """`value` when it is a path on this server (the Live Feed window, the extension's connect
    page…), else the web app: never another site (`//evil.example`, `/\\evil`, `https://…`)."""
    if not value or len(value) > 1000 or not _LOCAL.fullmatch(value):
        return HOME
    return value


class SignInRequired(Exception):
    """Raised by `signed_in_rep`; the app answers with a redirect to /signin."""


async def signed_in_rep(request: Request):
    """Dependency for pages: the signed-in rep, or a redirect to the sign-in page."""
    user = await page_user(request)
    if user is None:
        raise SignInRequired()
    return user


def _peer_ip(request: Request) -> str | None:
    peer = request.client.host if request.client else None
    ip = client_ip(peer, request.headers.get("x-forwarded-for"), runtime(request).settings.trusted_proxies)
    return str(ip) if ip else None


def _signed_in(request: Request, user_id: int, session: str, then: str | None = None) -> RedirectResponse:
    rt = runtime(request)
    response = RedirectResponse(local_path(then), status_code=303)
    secure = rt.settings.secure_cookies
    response.set_cookie(
        SESSION_COOKIE, session, httponly=True, samesite="lax", secure=secure, max_age=actions.SESSION_DAYS * 86400
    )
    # The self cookie marks this browser as the rep's own, so their opens and clicks are "self".
    # SameSite=None (HTTPS only) lets webmail images carry it; otherwise Lax covers clicks.
    response.set_cookie(
        SELF_COOKIE,
        rt.signer.sign(actions.SELF, user_id),
        httponly=True,
        secure=secure,
        samesite="none" if secure else "lax",
        max_age=SELF_COOKIE_DAYS * 86400,
    )
    return response


@router.get("/")
async def home(request: Request):
    return RedirectResponse("/app" if await page_user(request) else "/signin", status_code=303)


@router.get("/signin")
async def signin_form(request: Request, next: str | None = Query(None, max_length=1000)):
    return render(request, "signin.html", error=None, email="", then=local_path(next))


@router.post("/signin")
async def signin(
    request: Request,
    email: str = Form("", max_length=320),
    password: str = Form("", max_length=1000),
    csrf: str = Form(""),
    next: str = Form("", max_length=1000),
):
    check_csrf(request, csrf)
    rt = runtime(request)
    try:
        result = await asyncio.to_thread(
            actions.sign_in,
            rt.engine,
            email=email,
            password=password,
            ip=_peer_ip(request),
            now=rt.clock(),
            user_agent=request.headers.get("user-agent"),
        )
    except actions.SignInLocked as exc:
        minutes = max(1, round(exc.retry_after / 60))
        response = render(
            request,
            "signin.html",
            status=429,
            email=email,
            then=local_path(next),
            error=f"Too many failed sign-ins. Try again in {minutes} minute{'s' if minutes > 1 else ''}.",
        )
        response.headers["retry-after"] = str(exc.retry_after)
        return response
    if result is None:
        return render(request, "signin.html", status=401, error="Wrong email or password.", email=email, then=local_path(next))
    user, session = result
    return _signed_in(request, user["id"], session, next)


LINK_REFUSED = "That sign-in link is invalid, has expired or was used already: ask for a new one."


@router.get("/signin/link/{token}")
async def signin_link_page(request: Request, token: str):
    """Says whose link it is, with a button: the link is used up only by that POST, so a mail
    scanner fetching the link does not spend it."""
    rt = runtime(request)
    user_id = actions.user_for_signin_link(rt.signer, token, now=rt.clock())
    email = await asyncio.to_thread(_user_email, rt, user_id) if user_id is not None else None
    if email is None:
        return render(request, "signin.html", status=401, error=LINK_REFUSED, email="")
    response = render(request, "signin_link.html", token=token, email=email)
    response.headers["referrer-policy"] = "no-referrer"
    return response


@router.post("/signin/link")
async def signin_link(request: Request, token: str = Form("", max_length=200), csrf: str = Form("")):
    check_csrf(request, csrf)
    rt = runtime(request)
    user_id = await asyncio.to_thread(actions.use_signin_link, rt.engine, rt.signer, token, now=rt.clock())
    if user_id is None:
        return render(request, "signin.html", status=401, error=LINK_REFUSED, email="")
    session = await asyncio.to_thread(
        actions.start_session,
        rt.engine,
        user_id=user_id,
        ip=_peer_ip(request),
        now=rt.clock(),
        user_agent=request.headers.get("user-agent"),
    )
    return _signed_in(request, user_id, session)


def _user_email(rt, user_id: int) -> str | None:
    with rt.engine.connect() as conn:
        return queries.active_user_email(conn, user_id)


@router.post("/signout")
async def signout(request: Request, csrf: str = Form("")):
    check_csrf(request, csrf)
    if token := request.cookies.get(SESSION_COOKIE):
        await asyncio.to_thread(actions.end_session, runtime(request).engine, token)
        forget_session(runtime(request), token)
    response = to_signin()
    response.delete_cookie(SESSION_COOKIE)
    return response


SENT_PAGE = 50


def _sent_emails(rt, user, *, q: str = "", before: int | None = None) -> list:
    """The rep's emails, newest first, a page of SENT_PAGE (+1 to tell whether there is an older page),
    older than `before` and matching `q` (subject or a recipient's address) when given, each with its recipients' status: delivered or bounced, views,
    clicks and replies by people (machine hits do not count), the latest, probably forwarded."""
    tz = taskdates.zone(user["timezone"])
    with rt.engine.connect() as conn:
        sent, copies, in_outbox, counts = queries.sent_page(
            conn, workspace_id=user["workspace_id"], user_id=user["id"], q=q, before=before, limit=SENT_PAGE + 1
        )  # one more: is there an older page?
    stats: dict[int, dict] = {}
    for row in counts:
        mine = stats.setdefault(row.recipient_id, {"open": 0, "click": 0, "reply": 0, "bounce": None, "last": None})
        if row.kind == "bounce":
            mine["bounce"] = row.reason
        elif row.kind in mine:
            mine[row.kind] += row.n
        if row.kind != "bounce" and (mine["last"] is None or row.last > mine["last"]):
            mine["last"] = row.last
    by_email: dict[int, list] = {}
    for copy in copies:
        mine = stats.get(copy["id"], {"open": 0, "click": 0, "reply": 0, "bounce": None, "last": None})
        by_email.setdefault(copy["email_id"], []).append(
            {
                "address": copy["address"],
                "subject": copy["subject"],
                **mine,
                "last": mine["last"].astimezone(tz).strftime("%Y-%m-%d %H:%M") if mine["last"] else None,
                "forwarded": bool((copy["forward_state"] or {}).get("evidence")),
            }
        )
    for email in sent:
        email["recipients"] = by_email.get(email["id"], [])
        email["delivery"] = "outbox" if email["id"] in in_outbox else "gmail" if email["shared_with"] else "server"
        email["created_local"] = email["created_at"].astimezone(tz).strftime("%Y-%m-%d %H:%M")
    return sent


async def _outbox_mode(rt, user) -> bool:
    """Whether this rep's mail stays in the local outbox: no server SMTP and no account of their own."""
    if rt.settings.smtp_url is not None:
        return False

    def has_account():
        with rt.engine.connect() as conn:
            return queries.has_smtp_account(conn, user["id"])

    return not await asyncio.to_thread(has_account)


@router.get("/app")
async def app_home(request: Request, user=Depends(signed_in_rep)):
    rt = runtime(request)
    q = request.query_params.get("q", "")[:200]
    before = request.query_params.get("before", "")
    before_id = int(before) if before.isdigit() and len(before) < 19 else None
    sent = await asyncio.to_thread(partial(_sent_emails, q=q, before=before_id), rt, user)
    older = sent[SENT_PAGE - 1]["id"] if len(sent) > SENT_PAGE else None
    return render(
        request,
        "app.html",
        user=user,
        sent=sent[:SENT_PAGE],
        older=older,
        q=q,
        paged=before_id is not None,
        outbox_mode=await _outbox_mode(rt, user),
        form={k: request.query_params.get(k, "")[:998] for k in ("to", "subject")},
        error=None,
        notice=request.query_params.get("notice"),
    )


def _draft(to: str, cc: str, subject: str, body: str, html: str, bcc: str = "", **switches) -> actions.Draft:
    """The compose form's draft: the editor's HTML (cleaned) when it sent any, else the plain
    textarea (no scripts) as paragraphs; the text part is derived from the HTML or is the textarea."""
    split = lambda text: [a.strip() for a in text.replace(";", ",").split(",") if a.strip()]  # noqa: E731
    if not is_blank(html):
        return actions.validate_draft(
            to=split(to), cc=split(cc), bcc=split(bcc), subject=subject, html=autolink(clean_html(html)), text=None, **switches
        )
    return actions.validate_draft(
        to=split(to), cc=split(cc), bcc=split(bcc), subject=subject, html=_paragraphs(body), text=body, **switches
    )


def _form_error(exc: actions.ActionError) -> str:
    field = exc.field.split("[")[0]
    return f"{ {'html': 'Message', 'text': 'Message'}.get(field, field.capitalize()) }: {exc.message}"


@router.post("/app/compose")
async def compose(
    request: Request,
    to: str = Form(""),
    cc: str = Form(""),
    subject: str = Form(""),
    body: str = Form(""),
    html: str = Form(""),
    track_opens: str = Form(""),
    track_clicks: str = Form(""),
    csrf: str = Form(""),
    bcc: str = Form(""),
    user=Depends(signed_in_rep),
):
    check_csrf(request, csrf)
    rt = runtime(request)
    form = {
        "to": to,
        "cc": cc,
        "bcc": bcc,
        "subject": subject,
        "body": body,
        "html": "" if is_blank(html) else clean_html(html),
        "track_opens": bool(track_opens),
        "track_clicks": bool(track_clicks),
    }
    try:
        draft = _draft(to, cc, subject, body, html, bcc, track_opens=bool(track_opens), track_clicks=bool(track_clicks))
        result = await rt.sender.send_email(user, draft)  # a recipient missing a {{field}}: an error, nothing sent
    except actions.ActionError as exc:
        sent = (await asyncio.to_thread(_sent_emails, rt, user))[:SENT_PAGE]
        return render(
            request,
            "app.html",
            status=422,
            user=user,
            sent=sent,
            outbox_mode=await _outbox_mode(rt, user),
            form=form,
            error=_form_error(exc),
            notice=None,
        )
    notice = {"sent": "sent", "sending": "retrying"}.get(result.status, "failed")
    return RedirectResponse(f"/app?notice={notice}", status_code=303)


@router.post("/app/emails/{email_id}/archive")
async def archive_email(
    request: Request, email_id: IdPath, archived: str = Form(""), csrf: str = Form(""), user=Depends(signed_in_rep)
):
    """The Sent list's Archive / Unarchive button: tracking off or back on."""
    check_csrf(request, csrf)
    found = await asyncio.to_thread(actions.set_archived, runtime(request).engine, user, email_id, archived == "1")
    if not found:
        return Response("No such email", status_code=404)
    return RedirectResponse("/app", status_code=303)


@router.post("/app/compose/preview")
async def compose_preview(
    request: Request,
    to: str = Form(""),
    cc: str = Form(""),
    subject: str = Form(""),
    body: str = Form(""),
    html: str = Form(""),
    csrf: str = Form(""),
    bcc: str = Form(""),
    user=Depends(signed_in_rep),
):
    """The compose form's Preview: each recipient's copy as sending would build it, nothing stored."""
    check_csrf(request, csrf)
    try:
        draft = _draft(to, cc, subject, body, html, bcc)
        copies = await asyncio.to_thread(actions.preview, runtime(request).engine, user, draft)
    except actions.ActionError as exc:
        return JSONResponse({"error": _form_error(exc)}, 422)
    return JSONResponse({"copies": copies})


def _paragraphs(text: str) -> str | None:
    """The compose box is plain text: send it as simple HTML too, links kept clickable."""
    if not text.strip():
        return None
    escaped = html.escape(text)
    linked = re.sub(r"https?://[^\s<>&]+", lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped)
    return "".join(f"<p>{p.replace(chr(10), '<br>')}</p>" for p in linked.split("\n\n"))


def _outbox_rows(rt, user, message_id: int | None = None):
    """The rep's outbox, newest first; one message with its raw source when `message_id` is given."""
    with rt.engine.connect() as conn:
        return queries.outbox_page(conn, workspace_id=user["workspace_id"], user_id=user["id"], message_id=message_id)


@router.get("/app/outbox")
async def outbox_list(request: Request, user=Depends(signed_in_rep)):
    rows = await asyncio.to_thread(_outbox_rows, runtime(request), user)
    tz = taskdates.zone(user["timezone"])  # times in the rep's zone, as everywhere else
    rows = [{**row, "created_local": row["created_at"].astimezone(tz).strftime("%Y-%m-%d %H:%M")} for row in rows]
    return render(request, "outbox.html", user=user, rows=rows, zone=tz.key)


@router.get("/app/outbox/{message_id}")
async def outbox_message(request: Request, message_id: IdPath, user=Depends(signed_in_rep)):
    rows = await asyncio.to_thread(_outbox_rows, runtime(request), user, message_id)
    if not rows:
        return render(request, "outbox.html", status=404, user=user, rows=[], missing=True)
    return render(request, "outbox_message.html", user=user, row=rows[0])


@router.get("/app/outbox/{message_id}/body")
async def outbox_body(request: Request, message_id: IdPath):
    """The recipient's copy, served sandboxed: no scripts, an opaque origin (so no rep cookies)."""
    user = await page_user(request)
    if user is None:
        return Response(status_code=401)
    rows = await asyncio.to_thread(_outbox_rows, runtime(request), user, message_id)
    if not rows:
        return Response(status_code=404)
    message = message_from_string(rows[0]["raw"], policy=policy.default)
    part = message.get_body(("html", "plain"))
    content = part.get_content() if part else ""
    if part is not None and part.get_content_type() == "text/plain":
        content = f"<pre style='white-space:pre-wrap;font:14px system-ui'>{html.escape(content)}</pre>"
    return HTMLResponse(
        content,
        headers={
            "content-security-policy": "sandbox allow-popups allow-popups-to-escape-sandbox; script-src 'none'",
            "x-content-type-options": "nosniff",
            "referrer-policy": "no-referrer",
        },
    )


TASK_FILTERS = {
    "today": "Today",
    "tomorrow": "Tomorrow",
    "today_and_tomorrow": "Today and tomorrow",
    "next_7_days": "Next 7 days",
    "overdue": "Overdue",
    "range": "Date range",
}


def _task_page(rt, user, params: dict[str, str], now) -> dict:
    """The Tasks page's data: the chosen window (or custom range) and status, in the rep's zone."""
    tz = taskdates.zone(user["timezone"])
    show = params.get("show", "")
    show = show if show in TASK_FILTERS else "next_7_days"
    status = params.get("status", "")
    status = status if status in ("open", "done", "all") else "open"
    error, window = None, None
    try:
        if show == "range":
            window = taskdates.range_window(params.get("from") or "", params.get("to") or "", tz)
        elif show != "overdue":
            window = taskdates.due_window(show, now, tz)
    except Invalid as exc:
        error = f"{exc.field.capitalize()}: {exc.message}"
    with rt.engine.connect() as conn:
        found = (
            []
            if error
            else task_actions.list_tasks(
                conn,
                user,
                assignee_id=user["id"],
                tz=tz,
                window=window,
                status=status,
                overdue=show == "overdue",
                now=now,
                limit=500,
            )
        )
        if not error and window is not None and show != "range" and status != "done":
            # as in the window: what is overdue from before these days is shown first, not hidden
            earlier = task_actions.list_tasks(
                conn, user, assignee_id=user["id"], tz=tz, window=None, status="open", overdue=True, now=now, limit=500
            )
            found = [t for t in earlier if t["due_date"] < window.first.isoformat()] + found
    return {
        "tasks": found,
        "show": show,
        "task_status": status,
        "window": window,
        "error": error,
        "today": taskdates.local_today(now, tz).isoformat(),
        "range_from": params.get("from", ""),
        "range_to": params.get("to", ""),
        "filters": TASK_FILTERS,
        "type_labels": task_actions.TYPE_LABELS,
    }


@router.get("/app/tasks")
async def tasks_page(request: Request, user=Depends(signed_in_rep)):
    rt = runtime(request)
    data = await asyncio.to_thread(_task_page, rt, user, dict(request.query_params), rt.clock())
    return render(request, "tasks.html", status=422 if data["error"] else 200, user=user, form={}, form_error=None, **data)


@router.post("/app/tasks")
async def tasks_create(request: Request, user=Depends(signed_in_rep)):
    form = await text_form(request)
    check_csrf(request, form.pop("csrf", None))
    rt = runtime(request)
    person = (form.pop("person", "") or "").strip().lower()
    fields = {k: v for k, v in form.items() if k in ("type", "title", "due_date", "due_time", "priority", "notes") and v != ""}

    def create(conn, changes):
        if person:
            found = people_actions.person_id_by_email(conn, user["workspace_id"], person)
            if found is None:
                raise Invalid("person", f"no person with the email {person}")
            fields["person_id"] = found
        return task_actions.create_task(conn, user, fields, now=rt.clock(), changes=changes)

    try:
        await commit(rt, create)
    except Invalid as exc:
        data = await asyncio.to_thread(_task_page, rt, user, {}, rt.clock())
        return render(
            request,
            "tasks.html",
            status=422,
            user=user,
            form={**form, "person": person},
            form_error=f"{exc.field.replace('_', ' ').capitalize()}: {exc.message}",
            **data,
        )
    return RedirectResponse("/app/tasks?notice=created", status_code=303)


@router.post("/app/tasks/{task_id}")
async def tasks_change(
    request: Request,
    task_id: IdPath,
    action: str = Form(""),
    csrf: str = Form(""),
    back: str = Form("/app/tasks"),
    user=Depends(signed_in_rep),
):
    check_csrf(request, csrf)
    rt = runtime(request)
    if action not in ("done", "open", "delete", "tomorrow"):
        return Response("Unknown action", status_code=422)
    tomorrow = (taskdates.local_today(rt.clock(), taskdates.zone(user["timezone"])) + timedelta(days=1)).isoformat()

    def change(conn, changes):
        if action == "delete":
            assignee = task_actions.delete_task(conn, user, task_id, changes=changes)
            return None if assignee is None else (assignee, assignee)
        if action == "tomorrow":  # snoozed: the same time, tomorrow in the rep's zone
            return task_actions.update_task(conn, user, task_id, {"due_date": tomorrow}, now=rt.clock(), changes=changes)
        return task_actions.update_task(conn, user, task_id, {"status": action}, now=rt.clock(), changes=changes)

    changed = await commit(rt, change)
    if changed is None:
        return Response("No such task", status_code=404)
    return RedirectResponse(back if back.startswith("/app/tasks") else "/app/tasks", status_code=303)


@router.post("/app/tasks/{task_id}/edit")
async def tasks_edit(request: Request, task_id: IdPath, user=Depends(signed_in_rep)):
    """The Tasks page's Edit: title, type, day, time and priority of one task (rescheduling it)."""
    form = await text_form(request)
    check_csrf(request, form.pop("csrf", None))
    rt = runtime(request)
    back = form.pop("back", "/app/tasks")
    fields = {
        k: (v or None) if k == "due_time" else v
        for k, v in form.items()
        if k in ("type", "title", "due_date", "due_time", "priority")
    }
    try:
        changed = await commit(
            rt, lambda conn, changes: task_actions.update_task(conn, user, task_id, fields, now=rt.clock(), changes=changes)
        )
    except Invalid as exc:
        data = await asyncio.to_thread(_task_page, rt, user, {}, rt.clock())
        return render(
            request,
            "tasks.html",
            status=422,
            user=user,
            form={},
            form_error=f"{exc.field.replace('_', ' ').capitalize()}: {exc.message}",
            **data,
        )
    if changed is None:
        return Response("No such task", status_code=404)
    return RedirectResponse(back if back.startswith("/app/tasks") else "/app/tasks", status_code=303)


@router.get("/app/settings")
async def settings_page(request: Request, user=Depends(signed_in_rep)):
    rt = runtime(request)
    stored = await asyncio.to_thread(actions.accounts_set_up, rt.engine, user["id"])
    return render(request, "settings.html", user=user, server_smtp=bool(rt.settings.smtp_url), stored=stored)


async def _admin_page(request: Request, user, *, status: int = 200, **extra):
    from ...actions.users import list_users

    rt = runtime(request)

    def read():
        with rt.engine.connect() as conn:
            return list_users(conn, user["workspace_id"])

    return render(
        request,
        "admin_users.html",
        status=status,
        user=user,
        users=await asyncio.to_thread(read),
        form=extra.pop("form", {}),
        error=extra.pop("error", None),
        link=extra.pop("link", None),
        added=extra.pop("added", None),
    )


def _require_admin(user) -> None:
    if user["role"] != "admin":
        raise HTTPException(403, "Only a workspace admin can manage users")


@router.get("/app/admin/users")
async def admin_users(request: Request, user=Depends(signed_in_rep)):
    _require_admin(user)
    return await _admin_page(request, user)


@router.post("/app/admin/users")
async def admin_add_user(request: Request, user=Depends(signed_in_rep)):
    from ...actions.users import create_user

    _require_admin(user)
    form = await text_form(request)
    check_csrf(request, form.pop("csrf", None))
    try:
        _, link = await asyncio.to_thread(
            create_user,
            runtime(request),
            user,
            email=form.get("email", ""),
            name=form.get("name", ""),
            timezone=form.get("timezone", "UTC"),
            role=form.get("role", "rep"),
            salesforce_user_id=form.get("salesforce_user_id") or None,
        )
    except actions.ActionError as exc:
        return await _admin_page(request, user, status=422, form=form, error=f"{exc.field.capitalize()}: {exc.message}")
    return await _admin_page(request, user, link=link, added=form.get("email", "").strip().lower())


@router.post("/app/admin/users/{user_id}")
async def admin_change_user(request: Request, user_id: IdPath, user=Depends(signed_in_rep)):
    from ...actions.users import change_user, user_access_changed

    _require_admin(user)
    form = await text_form(request)
    check_csrf(request, form.pop("csrf", None))
    try:
        disabled = form["disabled"] == "1" if "disabled" in form else None
        values = {"disabled": disabled} if disabled is not None else {"role": form.get("role")}
        changed = await asyncio.to_thread(change_user, runtime(request), user, user_id, values)
    except Invalid as exc:
        return await _admin_page(request, user, status=422, error=f"{exc.field.capitalize()}: {exc.message}")
    if changed is None:
        return await _admin_page(request, user, status=404, error="No such user in this workspace")
    if disabled is not None:
        await user_access_changed(runtime(request), user_id, disabled=disabled)
    return RedirectResponse("/app/admin/users", status_code=303)


@router.get("/api/v1/docs", include_in_schema=False)
async def api_docs(request: Request):
    """The browsable API reference, from the vendored Swagger UI (no CDN)."""
    return templates.TemplateResponse(request, "api_docs.html", {})


@router.get("/live")
async def live_window(request: Request, user=Depends(signed_in_rep)):
    rt = runtime(request)
    today = taskdates.local_today(rt.clock(), taskdates.zone(user["timezone"])).isoformat()  # in the rep's zone
    return render(request, "live.html", user=user, coalesce_minutes=rt.settings.coalesce_minutes, today=today)
