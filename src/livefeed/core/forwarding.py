"""Forward detection as evidence: human hits on one recipient's copy from a new place or device.

The first human hit of a copy sets its home place and device. Later human hits (a click implies an
open) from another place, or from another device in another place, are listed as evidence; two
different places make the copy "probably forwarded". Proxy hits carry no place and are ignored,
so Gmail users are judged on their clicks alone.
"""

from __future__ import annotations

from datetime import datetime

from .model import HUMAN, Agent, ForwardState, Location

MAX_KEPT = 8  # places/devices remembered per copy; more adds nothing to the evidence.


def device_key(agent: Agent) -> str | None:
    """A coarse device identity: OS family and device model (browser updates do not count)."""
    key = "|".join(p for p in (agent.os.split(" ")[0] if agent.os else "", agent.device) if p)
    return key or None


def observe(state: ForwardState, *, cls: str, location: Location, agent: Agent, at: datetime) -> bool:
    """Fold one hit into `state`; return True when the state changed (a place, device or evidence)."""
    if cls != HUMAN:
        return False
    place, device = location.cluster, device_key(agent)
    new_place = place is not None and bool(state.places) and place not in state.places
    new_device = device is not None and bool(state.devices) and device not in state.devices
    changed = False
    if place and place not in state.places and len(state.places) < MAX_KEPT:
        state.places.append(place)
        changed = True
    if device and device not in state.devices and len(state.devices) < MAX_KEPT:
        state.devices.append(device)
        changed = True
    if not new_place:
        return changed
    stamp = at.strftime("%Y-%m-%d %H:%M UTC")
    change = f"on a new device ({agent.label})" if new_device else "on a known device"
    state.evidence.append(f"{stamp}: opened from {location.label} {change}, first seen in {_place_name(state.places[0])}")
    del state.evidence[:-MAX_KEPT]
    return True


def _place_name(cluster: str) -> str:
    city, country = cluster.split("|")
    return f"{city}, {country}" if city != "?" else country
