"""IP → location from a MaxMind-format city database, opened once at start-up."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

import maxminddb

from ..core.model import Location

PRIVATE = Location(note="Private network: no location")
UNKNOWN = Location(note="Location unknown")


def default_database() -> str:
    """The GeoLite2 City database shipped in the maxminddb-geolite2 package (offline default)."""
    from _maxminddb_geolite2 import geolite2_database

    return geolite2_database()


class GeoLocator:
    """Looks up addresses; results are cached because the same IPs recur (proxies, offices)."""

    def __init__(self, path: str | None = None):
        self.path = path or default_database()
        self._reader = maxminddb.open_database(self.path, maxminddb.MODE_MMAP)
        self.locate = lru_cache(maxsize=65536)(self._locate)

    def _locate(self, ip: str | None) -> Location:
        try:
            address = ipaddress.ip_address(ip) if ip else None
        except ValueError:
            return UNKNOWN
        if address is None or not address.is_global:
            return PRIVATE
        record = self._reader.get(address)
        if not record or not isinstance(record, dict):
            return UNKNOWN
        return _location(record)

    def close(self) -> None:
        self._reader.close()


def _name(record: dict | None) -> str | None:
    return (record or {}).get("names", {}).get("en")


def _location(record: dict) -> Location:
    subdivisions = record.get("subdivisions") or [None]
    return Location(
        city=_name(record.get("city")),
        region=_name(subdivisions[0]),
        country=_name(record.get("country")),
        country_code=(record.get("country") or {}).get("iso_code"),
        radius_km=(record.get("location") or {}).get("accuracy_radius"),
    )
