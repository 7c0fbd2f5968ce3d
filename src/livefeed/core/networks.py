"""Networks whose fetches are not a person (mail security gateways, Apple's relays), as data:
each row keeps its class, a label, where it was published and when. Parsing and lookup only; the
shell reads the files (networks.py)."""

from __future__ import annotations

import csv
import io
import ipaddress
import json
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from .model import Invalid

# cloud: a cloud provider's published ranges (Azure, AWS, Google Cloud) — where gateways run their
# detonation browsers, and where some people's virtual desktops live: a signal that combines with
# behaviour (core/classify.py), never a verdict alone.
CLASSES = ("machine", "scanner", "relay", "cloud")
# Where vendors' JSON lists keep their networks: Microsoft 365 endpoints ("ips"), Azure service tags
# ("addressPrefixes"), AWS ip-ranges.json ("ip_prefix", "ipv6_prefix"), Google's cloud.json and
# goog.json ("ipv4Prefix", "ipv6Prefix").
JSON_KEYS = frozenset({"ips", "addressPrefixes", "ip_prefix", "ipv6_prefix", "ipv4Prefix", "ipv6Prefix"})
FIELDS = ("cidr", "class", "label", "source", "date")


@dataclass(frozen=True)
class Network:
    cidr: str
    cls: str
    label: str
    source: str
    date: str

    def as_row(self) -> list[str]:
        return [self.cidr, self.cls, self.label, self.source, self.date]


def parse(
    text: str, *, cls: str | None = None, label: str | None = None, source: str | None = None, today: date | None = None
) -> list[Network]:
    """Rows from our CSV (with its header), or from a vendor's plain list (one CIDR or address per
    line, or a CSV whose first column is the CIDR, as Apple's egress-ip-ranges.csv, or one of the
    vendors' JSON files in JSON_KEYS) given a class, label and source. Invalid naming the line for
    anything else."""
    if text.lstrip().startswith(("{", "[")):
        text = "\n".join(_json_networks(text))
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise Invalid("file", "has no networks")
    ours = [c.strip() for c in next(csv.reader([lines[0]]))] == list(FIELDS)
    if not ours and not (cls and label and source):
        raise Invalid(
            "file",
            f"is not LiveFeed's networks CSV ({','.join(FIELDS)}): give --class, --label and --source "
            "to read a plain list of networks",
        )
    if cls is not None and cls not in CLASSES:
        raise Invalid("class", f"must be one of {', '.join(CLASSES)}")
    found: list[Network] = []
    stamp = today.isoformat() if today else ""  # the shell passes the day a plain list is added
    for number, row in enumerate(csv.reader(io.StringIO("\n".join(lines[1:] if ours else lines))), start=2 if ours else 1):
        if not row:
            continue
        if ours:
            if len(row) != len(FIELDS):
                raise Invalid("file", f"line {number}: expected {len(FIELDS)} columns, found {len(row)}")
            cidr, row_cls, row_label, row_source, row_date = (v.strip() for v in row)
        else:
            if not stamp:
                raise ValueError("a plain list needs today's date")
            cidr, row_cls, row_label, row_source, row_date = row[0].strip(), cls or "", label or "", source or "", stamp
        try:
            network = str(ipaddress.ip_network(cidr, strict=False))
        except ValueError:
            raise Invalid("file", f"line {number}: {cidr[:60]!r} is not a network") from None
        if row_cls not in CLASSES:
            raise Invalid("file", f"line {number}: class must be one of {', '.join(CLASSES)}")
        if not row_label or not row_source:
            raise Invalid("file", f"line {number}: a label and a source are required")
        found.append(Network(network, row_cls, row_label[:100], row_source[:300], row_date[:10]))
    return found


def _json_networks(text: str) -> list[str]:
    """Every network a vendor's JSON list names under one of JSON_KEYS, once each, in order."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise Invalid("file", f"is not valid JSON ({exc.msg}, line {exc.lineno})") from None
    except RecursionError:
        raise Invalid("file", "is nested too deeply to be a list of networks") from None
    found: dict[str, None] = {}
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if key in JSON_KEYS:
                    for item in value if isinstance(value, list) else [value]:
                        if isinstance(item, str):
                            found.setdefault(item.strip(), None)
                elif isinstance(value, (dict, list)):
                    stack.append(value)
        elif isinstance(node, list):
            stack.extend(reversed(node))
    if not found:
        raise Invalid("file", f"names no networks (looked for {', '.join(sorted(JSON_KEYS))})")
    return list(found)


class NetworkTable:
    """Which known network an address is in (the most specific one). One dictionary per prefix
    length, so a lookup costs a few hash probes however many networks are loaded (Apple's relay
    list alone has hundreds of thousands)."""

    def __init__(self, networks: list[Network]):
        self.networks = list(networks)
        self._tables: dict[int, list[tuple[int, int, dict[int, Network]]]] = {4: [], 6: []}
        grouped: dict[tuple[int, int], dict[int, Network]] = {}
        for found in self.networks:
            net = ipaddress.ip_network(found.cidr)
            grouped.setdefault((net.version, net.prefixlen), {}).setdefault(int(net.network_address), found)
        for (version, length), table in sorted(grouped.items(), key=lambda item: -item[0][1]):
            bits = 32 if version == 4 else 128
            self._tables[version].append((length, bits, table))
        self.lookup = lru_cache(maxsize=65536)(self._lookup)  # the same addresses recur

    def _lookup(self, ip: str | None) -> Network | None:
        if not ip:
            return None
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return None
        value = int(address)
        for length, bits, table in self._tables[address.version]:  # most specific first
            found = table.get(value >> (bits - length) << (bits - length) if length else 0)
            if found is not None:
                return found
        return None
