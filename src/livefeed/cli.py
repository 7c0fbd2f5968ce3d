"""The livefeed command: serve, smtpd, sync, migrate, users, tokens, import."""

from __future__ import annotations

import asyncio
import os
import re
import sys
import tempfile
from datetime import timedelta
from typing import NoReturn

import typer

from . import actions
from .db import migrate as migrations
from .db.engine import make_engine
from .db.sql import now_utc
from .settings import SettingsError, from_env

app = typer.Typer(help="LiveFeed: a self-hosted real-time sales-engagement feed.", no_args_is_help=True, add_completion=False)
GRACEFUL_SHUTDOWN_SECONDS = 3
# uvicorn's own logging set-up, plus LiveFeed's loggers at INFO and httpx's request lines off.
LOG_CONFIG = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(levelname)s %(name)s: %(message)s"}},
    "filters": {"redact": {"()": "livefeed.web.accesslog.RedactSecrets"}},
    "handlers": {
        "stderr": {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr"},
        # the access log never holds a sign-in link or tracking token (web/accesslog.py)
        "access": {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr", "filters": ["redact"]},
    },
    "loggers": {
        "livefeed": {"handlers": ["stderr"], "level": "INFO"},
        "httpx": {"level": "WARNING"},
        "httpx2": {"level": "WARNING"},
        "uvicorn": {"handlers": ["stderr"], "level": "INFO"},
        "uvicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
    },
}
users_app = typer.Typer(help="Manage reps.", no_args_is_help=True)
tokens_app = typer.Typer(help="Manage API tokens.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")
import_app = typer.Typer(help="Import data from files.", no_args_is_help=True)
app.add_typer(import_app, name="import")
networks_app = typer.Typer(help="Known non-human networks: mail security gateways, Apple's relays.", no_args_is_help=True)
app.add_typer(networks_app, name="networks")


@networks_app.command("update")
def networks_update(
    file: typer.FileText = typer.Argument(
        ...,
        help="LiveFeed's networks CSV (cidr,class,label,source,date), or a vendor's "
        "published list: one network per line, a CSV with the network first, or "
        "Azure Service Tags / Microsoft 365 endpoints / AWS / Google Cloud JSON",
    ),
    cls: str = typer.Option(
        None,
        "--class",
        help="For a vendor's list: scanner (security gateways), machine, relay "
        "(iCloud Private Relay egress) or cloud (a cloud provider: a signal only)",
    ),
    label: str = typer.Option(None, help='For a plain list: what the feed calls these hits ("Proofpoint")'),
    source: str = typer.Option(None, help="For a plain list: where it was published (a URL)"),
):
    """Add or refresh a vendor's networks (the rows with the same label are replaced). Restart the
    server to use them."""
    from .core.model import Invalid
    from .pipeline import networks

    settings = _settings()
    try:
        added, replaced = networks.update(settings.var_dir, file.read(), cls=cls, label=label, source=source)
    except Invalid as exc:
        _fail(f"Nothing changed: {exc}", 2)
    typer.echo(
        f"{added} network(s) added, {replaced} replaced, in {networks.added_path(settings.var_dir)}. "
        "Restart `livefeed serve` to use them."
    )


@networks_app.command("list")
def networks_list():
    """The networks in use: LiveFeed's own and the ones added."""
    from .pipeline import networks

    for network in networks.listed(_settings().var_dir):
        typer.echo(f"{network.cidr}\t{network.cls}\t{network.label}\t{network.source}\t{network.date}")


def _settings(**overrides):
    try:
        return from_env(**overrides)
    except SettingsError as exc:
        typer.secho(f"Configuration error: {exc}", err=True, fg="red")
        raise typer.Exit(2) from None


def _ready_engine(settings):
    """The engine, with the schema current: the embedded SQLite default migrates itself;
    PostgreSQL waits for `livefeed migrate` (run once per deploy, not by every worker)."""
    engine = make_engine(settings.database_url)
    if settings.is_sqlite:
        migrations.upgrade(engine)
    elif todo := migrations.pending(engine):
        _fail(f"The database has {len(todo)} pending migration(s): run `livefeed migrate` first.", 2)
    return engine


def _fail(message: str, code: int = 1) -> NoReturn:
    typer.secho(message, err=True, fg="red")
    raise typer.Exit(code)


@app.command()
def migrate():
    """Apply pending database migrations."""
    settings = _settings()
    engine = make_engine(settings.database_url)
    todo = migrations.pending(engine)
    migrations.upgrade(engine)
    typer.echo(f"Applied {len(todo)} migration(s); the database is up to date.")


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on"),
    port: int = typer.Option(8000, min=1, max=65535, help="Port to listen on"),
    workers: int = typer.Option(1, min=1, help="Worker processes (PostgreSQL only: they share events through it)"),
    demo: bool = typer.Option(False, "--demo", help="On an empty database, create a demo workspace and simulate prospects"),
    log_level: str = typer.Option("info", help="uvicorn log level"),
    access_log: bool = typer.Option(True, help="Log every request (off saves ≈10 µs a hit)"),
):
    """Serve the web app, API, live stream and tracking endpoints."""
    import uvicorn

    if "LIVEFEED_PUBLIC_URL" not in os.environ:
        os.environ["LIVEFEED_PUBLIC_URL"] = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    if demo and "LIVEFEED_TRUSTED_PROXIES" not in os.environ:
        # The simulator plays prospects around the world through X-Forwarded-For from loopback.
        os.environ["LIVEFEED_TRUSTED_PROXIES"] = "127.0.0.1/32,::1/128"
    settings = _settings(demo=demo)
    engine = _ready_engine(settings)
    engine.dispose()
    if workers > 1 and settings.is_sqlite:
        _fail(
            "--workers needs PostgreSQL (LIVEFEED_DATABASE_URL=postgresql://…): with SQLite, events reach only "
            "the streams of the process that recorded them.",
            2,
        )
    if workers > 1 and demo:
        _fail("--demo runs in a single process: drop --workers.", 2)
    if settings.smtp_url is None:
        typer.secho("No LIVEFEED_SMTP_URL: mail goes to the local outbox (web app → Outbox).", fg="yellow")
    os.environ["LIVEFEED_DEMO"] = "1" if demo else ""
    # Open streams never end by themselves: give them a few seconds, then close them (clients
    # reconnect and resume by event id). X-Forwarded-For is LiveFeed's own business (trusted proxies).
    uvicorn.run(
        "livefeed.web.app:from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        log_config=LOG_CONFIG,
        proxy_headers=False,
        server_header=False,
        access_log=access_log,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )


@app.command()
def smtpd(
    host: str = typer.Option("127.0.0.1", help="Address to listen on"),
    port: int = typer.Option(2525, min=1, max=65535, help="Port to listen on"),
):
    """Receive replies and bounces by SMTP (forward or BCC the reps' mail here); they reach the feed."""

    settings = _settings()
    engine = _ready_engine(settings)
    engine.dispose()
    typer.echo(f"Receiving mail on {host}:{port}")
    try:
        asyncio.run(_smtpd(settings, host, port))
    except KeyboardInterrupt:
        pass


async def _smtpd(settings, host: str, port: int) -> None:

    from .actions.replies import serve_smtp
    from .runtime import Runtime

    rt = await Runtime.start(settings)
    server = await serve_smtp(rt, host, port)
    try:
        await asyncio.Event().wait()
    finally:
        server.close()
        await rt.stop()


@users_app.command("add")
def users_add(
    email: str = typer.Option(..., help="The rep's email address (their sign-in)"),
    name: str = typer.Option(..., help="The rep's name"),
    timezone: str = typer.Option("UTC", help="IANA time zone, e.g. Europe/Paris"),
    workspace: str = typer.Option(actions.DEFAULT_WORKSPACE, help="Workspace (company) name"),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read a password from standard input"),
    salesforce_user_id: str = typer.Option(None, help="The rep's Salesforce User id (005…), for CRM ownership"),
    role: str = typer.Option(None, help="admin or rep (default: admin for a workspace's first user, else rep)"),
):
    """Add a rep (admins also change the workspace's settings and integrations)."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    settings = _settings()
    engine = make_engine(settings.database_url)
    migrations.upgrade(engine)
    try:
        user_id = actions.add_user(
            engine,
            email=email,
            name=name,
            timezone=timezone,
            workspace=workspace,
            password=password,
            salesforce_user_id=salesforce_user_id,
            role=role,
            now=now_utc(),
        )
    except actions.ActionError as exc:
        _fail(f"Cannot add user: {exc}")
    with engine.connect() as conn:
        role = actions.find_user(conn, email)["role"]
    typer.echo(f"Added {email} (id {user_id}, {role}) to workspace {workspace!r}.")


@users_app.command("signin-link")
def users_signin_link(email: str = typer.Option(..., help="The rep's email address")):
    """Print a one-off sign-in link (valid 15 minutes)."""
    from .actions.sessions import signin_url
    from .core.tokens import TokenSigner

    settings = _settings()
    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        user = actions.find_user(conn, email)
    if user is None:
        _fail(f"No user {email}.")
    typer.echo(signin_url(TokenSigner(settings.secret_key), settings.public_url, user_id=user["id"], now=now_utc()))


def _duration(text: str | None) -> timedelta | None:
    """`90d`, `12h`, `2w` → a timedelta; None for none; exit 2 naming the option otherwise."""
    if not text:
        return None
    found = re.fullmatch(r"\s*(\d{1,5})\s*([hdw])\s*", text.lower())
    if found is None or int(found.group(1)) == 0:
        _fail(f"--expires-in: {text!r} is not a duration such as 12h, 90d or 2w", 2)
    return timedelta(hours=int(found.group(1)) * {"h": 1, "d": 24, "w": 168}[found.group(2)])


@tokens_app.command("create")
def tokens_create(
    email: str = typer.Option(..., help="The rep the token acts as"),
    expires_in: str = typer.Option(None, help="Lifetime such as 90d, 12h or 2w (default: until revoked)"),
    name: str = typer.Option(None, help='What it is for, shown in the token list ("Gmail extension")'),
):
    """Create an API token; prints the token alone (it is stored hashed and cannot be shown again)."""
    lifetime = _duration(expires_in)
    settings = _settings()
    engine = make_engine(settings.database_url)
    migrations.upgrade(engine)
    try:
        token = actions.create_token(engine, email=email, now=now_utc(), expires_in=lifetime, name=name)
    except actions.ActionError as exc:
        _fail(f"Cannot create token: {exc}")
    typer.echo(token)


@tokens_app.command("list")
def tokens_list(email: str = typer.Option(..., help="The rep whose tokens to list")):
    """List a rep's API tokens (id, name, created, expires; never the token)."""
    engine = _ready_engine(_settings())
    with engine.connect() as conn:
        user = actions.find_user(conn, email)
        if user is None:
            _fail(f"No user {email}.")
        tokens = actions.list_tokens(conn, workspace_id=user["workspace_id"], user_id=user["id"])
    if not tokens:
        typer.echo(f"{email} has no API tokens.")
    for t in tokens:
        expires = t["expires_at"].isoformat(timespec="minutes") if t["expires_at"] else "never"
        typer.echo(f"{t['id']}\t{t['name'] or '-'}\tcreated {t['created_at'].isoformat(timespec='minutes')}\texpires {expires}")


@tokens_app.command("revoke")
def tokens_revoke(token_id: int = typer.Argument(..., help="The token's id (from tokens list)", min=1, max=2**63 - 1)):
    """Revoke an API token: it stops working at once (other workers within 10 seconds)."""
    engine = _ready_engine(_settings())
    if not actions.revoke_token(engine, token_id=token_id, workspace_id=None, user_id=None):
        _fail(f"No token {token_id}.")
    typer.echo(f"Revoked token {token_id}.")


def _set_disabled(email: str, disabled: bool) -> None:
    engine = _ready_engine(_settings())
    with engine.connect() as conn:
        user = actions.find_user(conn, email)
    if user is None:
        _fail(f"No user {email}.")
    try:
        actions.set_disabled(engine, user_id=user["id"], disabled=disabled, now=now_utc())
    except actions.ActionError as exc:
        _fail(f"Cannot disable {email}: {exc.message}")


@users_app.command("disable")
def users_disable(email: str = typer.Option(..., help="The user's email address")):
    """Disable a user: sign-in refused, sessions ended, API tokens refused, mailbox no longer watched."""
    _set_disabled(email, True)
    typer.echo(f"Disabled {email}: signed out everywhere; API tokens and the mailbox watcher stop.")


@users_app.command("enable")
def users_enable(email: str = typer.Option(..., help="The user's email address")):
    """Enable a disabled user again (their API tokens work again; sessions must sign in anew)."""
    _set_disabled(email, False)
    typer.echo(f"Enabled {email}.")


@import_app.command("people")
def import_people(
    file: typer.FileText = typer.Argument(
        ...,
        help="CSV with a header: email, first_name, last_name, title, company, "
        "phone, linkedin_url, owner_email, lead_score (any subset with email)",
    ),
    workspace: str = typer.Option(actions.DEFAULT_WORKSPACE, help="Workspace (company) name"),
    partial: bool = typer.Option(False, "--partial", help="Apply the good rows even when some are rejected"),
    show: int = typer.Option(20, help="How many rejected rows to list"),
):
    """Create or update people from a CSV file (upsert by email). All rows or none, unless --partial.

    An empty cell leaves that field as it is. Score rises reach the owners' Live Feed."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from .actions import people
    from .core.model import Invalid
    from .db.queries import workspace_id_by_name

    settings = _settings()
    engine = make_engine(settings.database_url)
    migrations.upgrade(engine) if settings.is_sqlite else None
    with engine.connect() as conn:
        workspace_id = workspace_id_by_name(conn, workspace)
    if workspace_id is None:
        _fail(f"No workspace {workspace!r} (add a rep to it first: livefeed users add --workspace …).", 2)
    text = file.read()
    err = Console(stderr=True)
    columns = (TextColumn("Importing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("rows", total=None)
        try:
            result = people.import_people(
                engine,
                workspace_id=workspace_id,
                text=text,
                partial=partial,
                now=now_utc(),
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
        except Invalid as exc:
            _fail(f"Cannot import {file.name}: {exc}", 2)
        except people.Rejection as exc:
            result = None
            rejected = exc.rejected
    if result is None:
        _print_rejected(err, rejected, show)
        _fail(f"Nothing imported: {len(rejected)} row(s) rejected. Fix them, or pass --partial to import the rest.")
    _print_rejected(err, result.rejected, show)
    typer.echo(
        f"Created {result.created}, updated {result.updated}, unchanged {result.unchanged}, "
        f"rejected {len(result.rejected)}; {result.rises} score rise(s) announced."
    )


@app.command("config-docs")
def config_docs():
    """Print the configuration reference (docs/configuration.md) from the settings code."""
    from .settings import configuration_markdown

    typer.echo(configuration_markdown(), nl=False)


@app.command("api-docs")
def api_docs():
    """Print the API reference (docs/api.md): conventions, and every endpoint from the OpenAPI description."""
    from .settings import from_env
    from .web.apidocs import api_markdown
    from .web.app import create_app

    with tempfile.TemporaryDirectory() as var_dir:  # the description needs no database or key of this machine
        spec = create_app(from_env({"LIVEFEED_VAR_DIR": var_dir})).app.openapi()  # the FastAPI app behind the tracking front door
    typer.echo(api_markdown(spec), nl=False)


@app.command("sync")
def sync_command(
    kind: str = typer.Argument(..., help="marketo or salesforce"),
    workspace: str = typer.Option(actions.DEFAULT_WORKSPACE, help="Workspace (company) name"),
):
    """Run one pass of a connector now (it also runs on its schedule inside `livefeed serve`).

    Connect it first: PUT /api/v1/connectors/{marketo|salesforce}. The pass resumes from the
    saved cursor; activities already recorded are not recorded twice."""

    from .db.queries import workspace_id_by_name

    if kind not in ("marketo", "salesforce"):
        _fail(f"Unknown connector {kind!r}: marketo or salesforce.", 2)
    settings = _settings()
    engine = _ready_engine(settings)
    with engine.connect() as conn:
        workspace_id = workspace_id_by_name(conn, workspace)
    engine.dispose()
    if workspace_id is None:
        _fail(f"No workspace {workspace!r}.", 2)
    done = asyncio.run(_sync(settings, workspace_id, kind))
    typer.echo(
        f"{kind}: {done.pages} page(s), {done.read} read, {done.recorded} feed row(s), {done.people} people, "
        f"{done.duplicates} already recorded, {done.unassigned} without a rep, {done.calls} API call(s)."
    )
    if done.stopped:
        typer.secho(done.stopped, fg="yellow")


async def _sync(settings, workspace_id: int, kind: str):
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from .integrations import connectors as sync
    from .runtime import Runtime

    rt = await Runtime.start(settings)
    try:
        found = await asyncio.to_thread(sync.load, rt, workspace_id, kind)
        if not found:
            _fail(f"No {kind} connection in this workspace: PUT /api/v1/connectors/{kind} first.", 2)
        columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
        with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task(f"Syncing {kind}", total=None)

            def show(progress) -> None:
                bar.update(
                    task, description=f"Syncing {kind}: page {progress.pages}, {progress.read} read, {progress.recorded} recorded"
                )

            try:
                return await sync.run_pass(rt, found[0], progress=show)
            except sync.SyncError as exc:
                _fail(f"{kind} sync failed: {exc}")
    finally:
        await rt.stop()


def _print_rejected(console, rejected, show: int) -> None:
    for row in rejected[:show]:
        console.print(f"line {row.line}: {row.email or '(no email)'}: {row.field}: {row.message}", markup=False, highlight=False)
    if len(rejected) > show:
        console.print(f"… and {len(rejected) - show} more rejected row(s)", markup=False)


def main() -> None:
    from sqlalchemy.exc import OperationalError

    try:
        app()
    except OperationalError as exc:  # the database is away: one line saying where and why, not a traceback
        reason = (
            str(getattr(exc, "orig", exc)).strip().splitlines()[0]
            if str(getattr(exc, "orig", exc)).strip()
            else type(exc).__name__
        )
        typer.secho(f"Cannot use the database at {_shown_url()}: {reason}", err=True, fg="red")
        sys.exit(1)


def _shown_url() -> str:
    """The database URL without its password."""
    from sqlalchemy.engine import make_url

    raw = os.environ.get("LIVEFEED_DATABASE_URL") or "the embedded SQLite file"
    try:
        return make_url(raw).render_as_string(hide_password=True)
    except Exception:  # not a URL at all: settings said so already, or it is the default
        return raw


if __name__ == "__main__":
    main()
