"""The known non-human networks this server uses: LiveFeed's own list (data/networks.csv) and what
the operator added with `livefeed networks update FILE` (var/networks.csv, replacing a label's rows)."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

from ..core.networks import FIELDS, Network, NetworkTable, parse

BUILTIN = Path(__file__).parent.parent / "data" / "networks.csv"


def added_path(var_dir: Path) -> Path:
    return Path(var_dir) / "networks.csv"


def load(var_dir: Path | None = None) -> NetworkTable:
    """The operator's rows first: for a network in both, their newer list is the one that names it."""
    rows = []
    if var_dir is not None and added_path(var_dir).is_file():
        rows += parse(added_path(var_dir).read_text())
    return NetworkTable(rows + parse(BUILTIN.read_text()))


def update(
    var_dir: Path,
    text: str,
    *,
    cls: str | None = None,
    label: str | None = None,
    source: str | None = None,
    today: date | None = None,
) -> tuple[int, int]:
    """Add a vendor's networks (Invalid naming the problem, nothing written); rows with the same
    label as the new ones are replaced. (how many added, how many replaced)."""
    new = parse(text, cls=cls, label=label, source=source, today=today or date.today())
    path = added_path(var_dir)
    old = parse(path.read_text()) if path.is_file() else []
    labels = {n.label for n in new}
    kept = [n for n in old if n.label not in labels]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FIELDS)
    writer.writerows(n.as_row() for n in kept + new)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(out.getvalue())
    temporary.replace(path)  # whole or not at all
    return len(new), len(old) - len(kept)


def listed(var_dir: Path | None) -> list[Network]:
    return load(var_dir).networks
