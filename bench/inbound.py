"""Marketo webhook and website beacon throughput with wrk, side by side with the open pixel.

    .venv/bin/python bench/inbound.py [--runs 3] [--seconds 10] [--connections 50]

One LiveFeed process on SQLite (durable: synchronous=FULL, answered after the commit). Every
webhook request is a new Interesting Moment (its own activity id) for a person a rep owns, so each
one appends a feed event; every beacon request is a page view of one of 1,000 visitors (1 in 10
identified: those also append a purple feed event). Each round runs the three targets
interleaved; the figures are medians over the rounds. The stored rows are counted afterwards.
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

from common import ROOT, SECRET, Workspace, free_port, livefeed_server, machine, median
from pixel import ensure_wrk_and_nginx, wrk

SITE = "https://www.example.com"
UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"


def prepare(workspace: Workspace, data: dict) -> dict:
    """Site origins, a webhook secret, owners for the people, identities for some visitors."""
    sys.path.insert(0, str(ROOT / "src"))
    from sqlalchemy import select, update

    from livefeed.core import website
    from livefeed.core.secrets import new_secret, secret_hash
    from livefeed.core.tokens import TokenSigner
    from livefeed.db.engine import make_engine
    from livefeed.db.tables import emails, now_utc, people, recipients, workspaces

    engine = make_engine(workspace.database_url)
    secret = new_secret("lfwh_")
    with engine.begin() as conn:
        conn.execute(update(workspaces).values(site_origins=SITE, marketo_hook_secret_hash=secret_hash(secret)))
        key, workspace_id = conn.execute(select(workspaces.c.site_key, workspaces.c.id)).one()
        owners = conn.execute(
            select(recipients.c.person_id, emails.c.user_id).join(emails, emails.c.id == recipients.c.email_id)
        ).all()
        for person_id, user_id in owners:
            conn.execute(update(people).where(people.c.id == person_id).values(owner_id=user_id))
        emails_ = list(conn.execute(select(people.c.email).order_by(people.c.id)).scalars())
    engine.dispose()
    signer = TokenSigner(SECRET.encode())
    expires = now_utc() + website.IDENTITY_TTL
    identities = [signer.sign(website.IDENTIFY, website.identity_number(pid, expires)) for pid, _ in owners[:100]]
    # 1,000 returning visitors, with the ids the server issued them (signed for this workspace)
    visitors = [signer.sign(website.VISITOR, website.visitor_number(workspace_id, n)) for n in range(1000)]
    return {"key": key, "secret": secret, "emails": emails_, "identities": identities, "visitors": visitors}


def post_script(kind: str, setup: dict) -> Path:
    """A wrk script: every request a new body (a new activity id / another visitor's page)."""
    emails = ",".join(json.dumps(e) for e in setup["emails"][:500])
    ids = ",".join(json.dumps(i) for i in setup["identities"])
    visitors = ",".join(json.dumps(v) for v in setup["visitors"])
    if kind == "hook":
        path, headers = (
            f"/hooks/marketo/{setup['key']}",
            f"['Content-Type'] = 'application/json', ['X-LiveFeed-Secret'] = '{setup['secret']}'",
        )
        body = (
            '\'{"type":"interesting_moment","moment_type":"Web","description":"Viewed pricing","activity_id":"\' .. tid .. "-" .. n .. '
            '\'","lead":{"email":"\' .. emails[n % #emails + 1] .. \'"}}\''
        )
    else:
        path, headers = (
            f"/w/b?s={setup['key']}",
            f"['Content-Type'] = 'text/plain;charset=UTF-8', ['Origin'] = '{SITE}', ['User-Agent'] = '{UA}'",
        )
        body = (
            '\'{"v":"\' .. visitors[n % 1000 + 1] .. \'","u":"' + SITE + '/page/\' .. n % 50 .. \'","t":"Page","r":""\' '
            ".. (n % 1000 < 100 and (',\"i\":\"' .. ids[n % 100 + 1] .. '\"') or \"\") .. '}'"
        )
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(
        f"emails = {{{emails}}}\nids = {{{ids}}}\nvisitors = {{{visitors}}}\nn = 0\ntid = 0\nlocal threads = 0\n"
        "setup = function(thread) threads = threads + 1; thread:set('tid', threads) end\n"
        f"request = function()\n  n = n + 1\n  return wrk.format('POST', '{path}', {{{headers}}}, {body})\nend\n"
    )
    return script


def wrk_post(port: int, script: Path, *, seconds: int, connections: int) -> tuple[float, float, int]:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), f"http://127.0.0.1:{port}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, float(p99.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)], int(errors.group(1)) if errors else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    args = parser.parse_args()
    ensure_wrk_and_nginx()
    workspace = Workspace()
    data = workspace.prepare(reps=10, recipients_per_rep=100, links=1)
    setup = prepare(workspace, data)
    scripts = {"hook": post_script("hook", setup), "beacon": post_script("beacon", setup)}
    port = free_port()
    server = livefeed_server(workspace, port)
    results: dict[str, list] = {"open pixel (baseline)": [], "Marketo webhook": [], "website beacon": []}
    try:
        for round_no in range(args.runs):
            results["open pixel (baseline)"].append(
                (*wrk(port, paths=data["opens"], seconds=args.seconds, connections=args.connections), 0)
            )
            results["Marketo webhook"].append(wrk_post(port, scripts["hook"], seconds=args.seconds, connections=args.connections))
            results["website beacon"].append(
                wrk_post(port, scripts["beacon"], seconds=args.seconds, connections=args.connections)
            )
            for name, runs in results.items():
                rps, p99, errors = runs[-1]
                print(f"round {round_no + 1} {name}: {rps:,.0f} req/s, p99 {p99:.2f} ms, non-2xx {errors}", flush=True)
    finally:
        server.stop()
    conn = sqlite3.connect(workspace.dir / "livefeed.db")
    stored = dict(conn.execute("SELECT kind, COUNT(*) FROM events GROUP BY kind").fetchall())
    views = conn.execute("SELECT COUNT(*) FROM page_views").fetchone()[0]
    conn.close()
    workspace.cleanup()
    base = median([r for r, _, _ in results["open pixel (baseline)"]])
    print(f"\n{machine()}; wrk -t2 -c{args.connections} -d{args.seconds}s; one process, SQLite; medians of {args.runs} rounds\n")
    print("| endpoint | req/s | × open pixel | p99 latency | non-2xx |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, runs in results.items():
        rps = median([r for r, _, _ in runs])
        print(
            f"| {name} | {rps:,.0f} | {rps / base:.2f} | {median([p for _, p, _ in runs]):.2f} ms | {sum(e for _, _, e in runs)} |"
        )
    print(f"\nstored: events {stored}, page views {views}")


if __name__ == "__main__":
    main()
