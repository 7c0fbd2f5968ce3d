"""Classification, table-tested on real user agents (tests/fixtures/user-agents.tsv)."""

from datetime import datetime, timedelta, timezone

import pytest

from livefeed.agents import AgentParser
from livefeed.core.classify import Facts, ScannerWatch, classify
from livefeed import networks
from livefeed.core.model import CLICK, OPEN

from .conftest import FIXTURES

parser = AgentParser()
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
T0 = datetime(2026, 11, 26, 9, 0, tzinfo=timezone.utc)


def _fixture_rows():
    for line in (FIXTURES / "user-agents.tsv").read_text().splitlines():
        if line and not line.startswith("#"):
            expected, agent, source = line.split("\t")
            yield pytest.param(expected, agent, id=source[:50])


NETWORKS = networks.load()  # LiveFeed's own list (data/networks.csv)


def facts(agent=CHROME, *, kind=OPEN, ip="81.2.69.142", since=timedelta(hours=1), table=NETWORKS, **kw) -> Facts:
    found = table.lookup(ip)  # as the recorder does
    return Facts(kind=kind, agent=parser.describe(agent), ip=ip, since_send=since,
                 network=(found.cls, found.label) if found else None, **kw)


@pytest.mark.parametrize("expected, agent", list(_fixture_rows()))
def test_user_agent_fixture_is_classified_as_captured(expected, agent):
    verdict = classify(facts(agent))
    assert verdict.cls == expected, verdict.reason
    assert verdict.reason


def test_gmail_proxy_is_a_real_open_with_location_hidden():
    verdict = classify(facts("Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)", ip="66.249.84.1"))
    assert verdict.cls == "proxy"
    assert "hidden by Gmail" in verdict.reason


def test_rep_cookie_makes_a_hit_self_whatever_the_agent():
    assert classify(facts(rep_cookie=True)).cls == "self"
    assert classify(facts("Mozilla/5.0 (via ggpht.com GoogleImageProxy)", rep_cookie=True)).cls == "self"


def test_hit_from_rep_sign_in_address_is_self():
    verdict = classify(facts(rep_ip=True, ip="198.51.100.4"))
    assert verdict.cls == "self" and "198.51.100.4" in verdict.reason


def test_apple_network_is_machine_even_with_a_browser_agent():
    assert classify(facts(ip="17.58.0.1")).cls == "machine"


def test_microsoft_safe_links_network_is_scanner():
    verdict = classify(facts(kind=CLICK, ip="40.107.22.10"))
    assert verdict.cls == "scanner" and "Microsoft" in verdict.reason


def test_apple_mail_privacy_protection_through_private_relay_is_machine_but_safari_there_is_a_person(tmp_path):
    # Apple's egress-ip-ranges.csv (mask-api.icloud.com): "prefix,country,region,city,"
    relay = "172.224.224.0/27,GB,GB-EN,London,\n2a02:26f7:b3c0:4000::/64,GB,GB-EN,London,\n"
    networks.update(tmp_path, relay, cls="relay", label="iCloud Private Relay egress",
                    source="https://mask-api.icloud.com/egress-ip-ranges.csv")
    table = networks.load(tmp_path)
    mail = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"
    safari = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15"
    assert classify(facts(mail, ip="172.224.224.9", table=table)).cls == "machine"
    assert "iCloud Private Relay" in classify(facts(mail, ip="2a02:26f7:b3c0:4000::1", table=table)).reason
    assert classify(facts(safari, ip="172.224.224.9", table=table)).cls == "human"  # a person browsing through the relay
    assert classify(facts(mail, ip="81.2.69.142", table=table)).cls == "human"  # Apple Mail with MPP off


def test_a_vendors_published_networks_are_added_replaced_and_checked(tmp_path):
    from livefeed.core.model import Invalid

    added, replaced = networks.update(tmp_path, "148.163.128.0/19\n67.231.144.0/20\n", cls="scanner",
                                      label="Proofpoint Essentials", source="proofpoint.com (published ranges)")
    assert (added, replaced) == (2, 0)
    table = networks.load(tmp_path)
    assert classify(facts(kind=CLICK, ip="148.163.140.5", table=table)).reason == "Proofpoint Essentials"
    assert networks.update(tmp_path, "148.163.128.0/19\n", cls="scanner", label="Proofpoint Essentials",
                           source="proofpoint.com (published ranges)") == (1, 2)
    assert classify(facts(kind=CLICK, ip="67.231.150.1", table=networks.load(tmp_path))).cls == "human"  # the old list is gone
    for bad, field in (("not-a-network\n", "file"), ("10.0.0.0/8\n", "file")):
        with pytest.raises(Invalid):
            networks.update(tmp_path, bad, cls="scanner" if bad.startswith("not") else None, label="X", source="Y")
    assert len(networks.load(tmp_path).networks) == len(NETWORKS.networks) + 1  # a refused file changed nothing


def test_early_open_alone_is_still_human():
    """Time since sending is a signal, never a verdict alone: a real open is never lost."""
    verdict = classify(facts(since=timedelta(seconds=2)))
    assert verdict.cls == "human"
    assert "2 s after sending" in verdict.reason


def test_early_open_by_unrecognised_client_is_machine():
    assert classify(facts("SomethingOdd/1.0", since=timedelta(seconds=3))).cls == "machine"
    assert classify(facts("SomethingOdd/1.0", since=timedelta(minutes=30))).cls == "human"


def test_outlook_is_human_although_crawler_detect_lists_microsoft_office():
    agent = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328; Pro)"
    assert parser.describe(agent).crawler is not None
    assert classify(facts(agent)).cls == "human"


def test_empty_user_agent_is_scanner():
    assert classify(facts("")).cls == "scanner"


def test_burst_of_three_distinct_links_within_two_seconds_is_scanner():
    watch = ScannerWatch()
    seen = [watch.observe_click(copy_id=1, link_id=link, event_id=10 + link, ip="9.9.9.9", agent=CHROME,
                                at=T0 + timedelta(milliseconds=300 * link)) for link in (1, 2, 3)]
    assert seen[:2] == [([], []), ([], [])]
    assert seen[2] == ([11, 12, 13], [])
    assert classify(facts(kind=CLICK, burst=True)).cls == "scanner"


def test_three_links_spread_over_more_than_two_seconds_is_not_a_burst():
    watch = ScannerWatch()
    for link in (1, 2, 3):
        assert watch.observe_click(copy_id=1, link_id=link, event_id=link, ip="9.9.9.9", agent=CHROME,
                                   at=T0 + timedelta(seconds=1.5 * link)) == ([], [])


def test_same_link_clicked_three_times_is_not_a_burst():
    watch = ScannerWatch()
    for n in range(3):
        assert watch.observe_click(copy_id=1, link_id=1, event_id=n, ip="9.9.9.9", agent=CHROME, at=T0) == ([], [])


def test_the_scanners_own_pixel_fetch_in_the_burst_window_is_the_scanner_too():
    watch = ScannerWatch()
    watch.observe_open(copy_id=1, event_id=5, ip="9.9.9.9", agent=CHROME, at=T0)  # the gateway fetched the pixel first
    watch.observe_open(copy_id=1, event_id=6, ip="81.2.69.142", agent=CHROME, at=T0)  # the person, elsewhere
    watch.observe_open(copy_id=2, event_id=7, ip="9.9.9.9", agent=CHROME, at=T0)  # another copy
    found = [watch.observe_click(copy_id=1, link_id=link, event_id=10 + link, ip="9.9.9.9", agent=CHROME,
                                 at=T0 + timedelta(milliseconds=300 * link)) for link in (1, 2, 3)]
    assert found[2] == ([11, 12, 13], [5])
    assert classify(facts(kind=OPEN, quarantined=True)).cls == "scanner"  # its later fetches too


def test_scanner_address_and_agent_stay_quarantined_for_a_while():
    watch = ScannerWatch(quarantine=timedelta(minutes=10))
    for link in (1, 2, 3):
        watch.observe_click(copy_id=1, link_id=link, event_id=link, ip="9.9.9.9", agent=CHROME, at=T0)
    assert watch.is_quarantined("9.9.9.9", CHROME, T0 + timedelta(minutes=5))
    assert not watch.is_quarantined("9.9.9.8", CHROME, T0 + timedelta(minutes=5))
    assert not watch.is_quarantined("9.9.9.9", CHROME, T0 + timedelta(minutes=11))
    assert classify(facts(kind=CLICK, quarantined=True)).cls == "scanner"


def test_every_verdict_carries_a_reason():
    for agent in ("", "Mozilla/5.0", CHROME, "curl/8"):
        for kind in (OPEN, CLICK):
            assert classify(facts(agent, kind=kind)).reason


def test_the_most_specific_known_network_wins_and_lookups_stay_cheap_with_many():
    from livefeed.core.networks import Network, NetworkTable

    rows = [Network("17.0.0.0/8", "machine", "Apple", "s", "d"), Network("17.5.7.0/24", "scanner", "Inside Apple", "s", "d"),
            Network("2a02:26f7::/32", "relay", "Relay", "s", "d")]
    rows += [Network(f"172.{(n >> 8) & 255}.{n & 255}.0/27", "relay", "iCloud Private Relay egress", "s", "d") for n in range(50_000)]
    table = NetworkTable(rows)
    assert table.lookup("17.5.7.9").label == "Inside Apple" and table.lookup("17.5.8.9").label == "Apple"
    assert table.lookup("172.3.4.30").label == "iCloud Private Relay egress" and table.lookup("172.3.4.33") is None
    assert table.lookup("2a02:26f7:b3c0::1").label == "Relay" and table.lookup("not an ip") is None
    # a lookup tries one dictionary per prefix length present (/24, /27, /8), not every network
    assert [length for length, _, _ in table._tables[4]] == [27, 24, 8] and len(table._tables[6]) == 1
