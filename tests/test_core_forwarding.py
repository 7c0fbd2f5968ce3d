from datetime import UTC, datetime

from livefeed.core.forwarding import observe
from livefeed.core.model import Agent, ForwardState, Location

T = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
LONDON = Location(city="London", country="United Kingdom", country_code="GB", radius_km=20)
STOCKHOLM = Location(city="Stockholm", country="Sweden", country_code="SE", radius_km=20)
HIDDEN = Location(note="Location hidden by Gmail")
DESKTOP = Agent(raw="x", client="Chrome 131", os="Windows 10")
PHONE = Agent(raw="y", client="Mobile Safari", os="iOS 17", device="iPhone")


def test_repeat_opens_from_one_place_are_not_forwarding():
    state = ForwardState()
    assert observe(state, cls="human", location=LONDON, agent=DESKTOP, at=T)  # the first place is news
    for _ in range(5):
        assert not observe(state, cls="human", location=LONDON, agent=DESKTOP, at=T)
    assert not state.forwarded


def test_open_from_a_new_place_is_evidence_of_forwarding():
    state = ForwardState()
    observe(state, cls="human", location=LONDON, agent=DESKTOP, at=T)
    assert observe(state, cls="human", location=STOCKHOLM, agent=PHONE, at=T)
    assert state.forwarded
    assert not observe(state, cls="human", location=STOCKHOLM, agent=PHONE, at=T)  # known by now
    assert len(state.evidence) == 1
    assert "Stockholm" in state.evidence[0] and "London" in state.evidence[0] and "new device" in state.evidence[0]


def test_machine_and_proxy_hits_are_not_evidence():
    state = ForwardState()
    observe(state, cls="human", location=LONDON, agent=DESKTOP, at=T)
    observe(state, cls="machine", location=STOCKHOLM, agent=PHONE, at=T)
    observe(state, cls="proxy", location=HIDDEN, agent=PHONE, at=T)
    assert not state.forwarded


def test_new_device_in_the_same_place_is_not_forwarding():
    state = ForwardState()
    observe(state, cls="human", location=LONDON, agent=DESKTOP, at=T)
    observe(state, cls="human", location=LONDON, agent=PHONE, at=T)
    assert not state.forwarded
