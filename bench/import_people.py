"""`livefeed import people` with a 100,000-row CSV, wall time of the whole command, SQLite and PostgreSQL.

Each run starts from an empty database with one rep, then imports three files: every person new
(with owner and score), every score raised by 5 (100,000 updates, score-history rows and feed
events), and the same file again (nothing changes). Medians of the runs are reported.

    .venv/bin/python bench/import_people.py [--rows 100000] [--runs 3] [--backend sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import random
import subprocess
import time
from datetime import date
from pathlib import Path

from common import PYTHON, Workspace, drop_database, machine, median, postgres_workspace

HEADER = "email,first_name,last_name,title,company,phone,linkedin_url,owner_email,lead_score\n"


def write_files(directory: Path, rows: int) -> tuple[Path, Path]:
    rng = random.Random(3)
    scores = [rng.randint(1, 100) for _ in range(rows)]
    first, second = directory / "people.csv", directory / "people-raised.csv"
    for path, bump in ((first, 0), (second, 5)):
        with path.open("w") as out:
            out.write(HEADER)
            for n, score in enumerate(scores):
                out.write(
                    f"person{n}@company{n % 5000}.test,First{n},Last{n},VP Sales,Company {n % 5000},"
                    f"+1 415 555 {n % 10000:04d},https://www.linkedin.com/in/person{n},rep@bench.test,{score + bump}\n"
                )
    return first, second


def livefeed(workspace: Workspace, *args: str) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run([str(Path(PYTHON).with_name("livefeed")), *args], env=workspace.env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return elapsed, done.stdout.strip()


def run(backend: str, files: tuple[Path, Path]) -> dict[str, float]:
    workspace = postgres_workspace("import") if backend == "postgresql" else Workspace()
    try:
        livefeed(workspace, "migrate")
        livefeed(workspace, "users", "add", "--email", "rep@bench.test", "--name", "Rep")
        results = {}
        for name, path in (("create", files[0]), ("raise", files[1]), ("unchanged", files[1])):
            results[name], summary = livefeed(workspace, "import", "people", str(path))
            print(f"    {name:9} {results[name]:6.1f} s   {summary}", flush=True)
        return results
    finally:
        drop_database(workspace)
        workspace.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args()
    print(f"# {machine()}, {date.today()}; {args.rows:,} rows, {args.runs} runs")
    scratch = Workspace()
    files = write_files(scratch.dir, args.rows)
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    table = {}
    try:
        for backend in backends:
            print(f"{backend}:", flush=True)
            runs = [run(backend, files) for _ in range(args.runs)]
            table[backend] = {name: median([r[name] for r in runs]) for name in runs[0]}
    finally:
        scratch.cleanup()
    print("\nmedian wall time of `livefeed import people` (s)")
    print("              " + "".join(f"{b:>12}" for b in table))
    for name in ("create", "raise", "unchanged"):
        print(f"  {name:10}  " + "".join(f"{table[b][name]:12.1f}" for b in table))


if __name__ == "__main__":
    main()
