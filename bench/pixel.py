"""Pixel and click throughput and latency with wrk, side by side with nginx and a bare ASGI app.

    .venv/bin/python bench/pixel.py [--runs 3] [--seconds 10] [--connections 50]

Each round runs every target once (interleaved, so machine noise hits all alike); the figures are
medians over the rounds. nginx is installed from Debian when absent (as root).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from bare_asgi import GIF
from common import PYTHON, Process, Workspace, drop_database, free_port, livefeed_server, machine, median, postgres_workspace

HERE = Path(__file__).resolve().parent


def ensure_wrk_and_nginx() -> None:
    missing = [pkg for cmd, pkg in (("wrk", "wrk"), ("nginx", "nginx-light")) if not shutil.which(cmd)]
    if missing:
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True)


def start_nginx(port: int) -> Process:
    root = Path(tempfile.mkdtemp(prefix="nginx-bench-"))
    (root / "o").mkdir()
    (root / "o" / "x.gif").write_bytes(GIF)
    conf = root / "nginx.conf"
    conf.write_text(
        textwrap.dedent(f"""
        worker_processes auto; daemon off; pid {root}/nginx.pid; error_log {root}/error.log;
        events {{ worker_connections 4096; }}
        http {{ access_log off; client_body_temp_path {root}; proxy_temp_path {root}; fastcgi_temp_path {root};
                uwsgi_temp_path {root}; scgi_temp_path {root};
                server {{ listen 127.0.0.1:{port}; root {root};
                          location /o/ {{ default_type image/gif; add_header Cache-Control no-store; }} }} }}
    """)
    )
    return Process([shutil.which("nginx"), "-c", str(conf)], port=port)


def wrk(port: int, *, paths: list[str], seconds: int, connections: int) -> tuple[float, float]:
    """Requests per second and p99 latency (ms), rotating over `paths`."""
    run = wrk_run(port, paths=paths, seconds=seconds, connections=connections)
    return run["rps"], run["p99_ms"]


def wrk_run(port: int, *, paths: list[str], seconds: int, connections: int) -> dict:
    """One wrk run: requests per second, p99 latency (ms), the responses it counted and how many
    of them were not 2xx/3xx."""
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    quoted = ",".join(f'"{p}"' for p in paths)
    script.write_text(
        f"paths = {{{quoted}}}\ni = 0\nrequest = function()\n  i = i % #paths + 1\n"
        f"  return wrk.format('GET', paths[i], {{['User-Agent'] = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) "
        f"AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36', "
        f"['Accept-Language'] = 'en-GB,en;q=0.9'}})\nend\n"
    )  # a browser's, as a person's click
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), f"http://127.0.0.1:{port}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    script.unlink()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    scale = {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        print(f"  warning: {errors.group(1)} non-2xx/3xx responses", file=sys.stderr)
    answered = int(re.search(r"(\d+) requests in", out).group(1))
    failed = int(errors.group(1)) if errors else 0
    return {"rps": rps, "p99_ms": float(p99.group(1)) * scale, "answered": answered, "failed": failed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL rows")
    args = parser.parse_args()
    ensure_wrk_and_nginx()

    workspace = Workspace()
    data = workspace.prepare(reps=10, recipients_per_rep=100, links=1)
    ports = {name: free_port() for name in ("nginx", "bare", "livefeed", "pg1", "pg2")}
    servers = [
        start_nginx(ports["nginx"]),
        Process(
            [
                PYTHON,
                "-m",
                "uvicorn",
                "--app-dir",
                str(HERE),
                "bare_asgi:app",
                "--port",
                str(ports["bare"]),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            port=ports["bare"],
        ),
        livefeed_server(workspace, ports["livefeed"]),
    ]
    targets = {
        "nginx static GIF": (ports["nginx"], ["/o/x.gif"]),
        "bare uvicorn raw ASGI": (ports["bare"], ["/o/x.gif"]),
        "LiveFeed open pixel (SQLite, 1 process)": (ports["livefeed"], data["opens"]),
        "LiveFeed click redirect (SQLite, 1 process)": (ports["livefeed"], data["clicks"]),
    }
    pg = None
    if not args.no_postgres:
        pg = postgres_workspace("pixel")
        pg_data = pg.prepare(reps=10, recipients_per_rep=100, links=1)
        servers += [livefeed_server(pg, ports["pg1"]), livefeed_server(pg, ports["pg2"], "--workers", "2")]
        targets["LiveFeed open pixel (PostgreSQL, 1 worker)"] = (ports["pg1"], pg_data["opens"])
        targets["LiveFeed open pixel (PostgreSQL, 2 workers)"] = (ports["pg2"], pg_data["opens"])
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in targets}
    acknowledged = {"sqlite": 0, "postgresql": 0}  # 2xx/3xx answers to genuine tokens, by database
    try:
        for round_no in range(args.runs):
            for name, (port, paths) in targets.items():
                run = wrk_run(port, paths=paths, seconds=args.seconds, connections=args.connections)
                results[name].append((run["rps"], run["p99_ms"]))
                if name.startswith("LiveFeed"):
                    acknowledged["postgresql" if "PostgreSQL" in name else "sqlite"] += run["answered"] - run["failed"]
                print(
                    f"round {round_no + 1} {name}: {results[name][-1][0]:,.0f} req/s, p99 {results[name][-1][1]:.2f} ms",
                    flush=True,
                )
    finally:
        for server in servers:
            server.stop()
    stored = {"sqlite": count_stored(workspace)}
    workspace.cleanup()
    if pg is not None:
        stored["postgresql"] = count_stored(pg)
        drop_database(pg)
        pg.cleanup()
    for database, count in stored.items():
        runs = args.runs * sum(
            1 for n in targets if n.startswith("LiveFeed") and ("PostgreSQL" in n) == (database == "postgresql")
        )
        in_flight = args.connections * runs  # sent and stored, but wrk stopped before reading the answer
        lost = max(0, acknowledged[database] - count)
        verdict = "every acknowledged hit was stored" if lost == 0 else f"{lost} ACKNOWLEDGED HITS MISSING"
        print(
            f"{database}: wrk counted {acknowledged[database]:,} 2xx/3xx answers; {count:,} events stored "
            f"(at most {in_flight} more: answers wrk never read): {verdict}"
        )
        if lost or count > acknowledged[database] + in_flight:
            raise SystemExit(f"{database}: stored {count}, acknowledged {acknowledged[database]}")

    base = median([r for r, _ in results["nginx static GIF"]])
    sqlite = median([r for r, _ in results["LiveFeed open pixel (SQLite, 1 process)"]])
    print(f"\n{machine()}; wrk -t2 -c{args.connections} -d{args.seconds}s; medians of {args.runs} rounds\n")
    print("| target | req/s | × nginx | × SQLite pixel | p99 latency |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, runs in results.items():
        rps = median([r for r, _ in runs])
        p99 = median([p for _, p in runs])
        print(f"| {name} | {rps:,.0f} | {rps / base:.2f} | {rps / sqlite:.2f} | {p99:.2f} ms |")


def count_stored(workspace: Workspace) -> int:
    """The events in the workspace's database (the bench records nothing else)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(workspace.database_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        rows = dict(conn.execute(text("SELECT kind, COUNT(*) FROM events GROUP BY kind")).all())
    engine.dispose()
    print("stored events:", rows)
    return sum(rows.values())


if __name__ == "__main__":
    main()
