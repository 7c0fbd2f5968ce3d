"""Classification, table-tested on real user agents (tests/fixtures/user-agents.tsv)."""

from datetime import UTC, datetime, timedelta

import pytest

from livefeed.core.classify import Facts, ScannerWatch, classify
from livefeed.core.model import CLICK, OPEN
from livefeed.pipeline import networks
from livefeed.pipeline.agents import AgentParser

from .conftest import FIXTURES

parser = AgentParser()
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def _fixture_rows():
    for line in (FIXTURES / "user-agents.tsv").read_text().splitlines():
        if line and not line.startswith("#"):
            expected, agent, source = line.split("\t")
            yield pytest.param(expected, agent, id=source[:50])


NETWORKS = networks.load()  # LiveFeed's own list (data/networks.csv)


def facts(agent=CHROME, *, kind=OPEN, ip="81.2.69.142", since=timedelta(hours=1), table=NETWORKS, **kw) -> Facts:
    found = table.lookup(ip)  # as the recorder does
    return Facts(
        kind=kind,
        agent=parser.describe(agent),
        ip=ip,
        since_send=since,
        network=(found.cls, found.label) if found else None,
        **kw,
    )


@pytest.mark.parametrize("expected, agent", list(_fixture_rows()))
def test_user_agent_fixture_is_classified_as_captured(expected, agent):
    verdict = classify(facts(agent))
    assert verdict.cls == expected, verdict.reason
    assert verdict.reason


def test_gmail_proxy_is_a_real_open_with_location_hidden():
    verdict = classify(
        facts("Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)", ip="66.249.84.1")
    )
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
    networks.update(
        tmp_path,
        relay,
        cls="relay",
        label="iCloud Private Relay egress",
        source="https://mask-api.icloud.com/egress-ip-ranges.csv",
    )
    table = networks.load(tmp_path)
    mail = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"
    safari = (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15"
    )
    assert classify(facts(mail, ip="172.224.224.9", table=table)).cls == "machine"
    assert "iCloud Private Relay" in classify(facts(mail, ip="2a02:26f7:b3c0:4000::1", table=table)).reason
    assert classify(facts(safari, ip="172.224.224.9", table=table)).cls == "human"  # a person browsing through the relay
    assert classify(facts(mail, ip="81.2.69.142", table=table)).cls == "human"  # Apple Mail with MPP off


def test_a_vendors_published_networks_are_added_replaced_and_checked(tmp_path):
    from livefeed.core.model import Invalid

    added, replaced = networks.update(
        tmp_path,
        "198.51.100.0/24\n203.0.113.0/24\n",
        cls="scanner",
        label="Example Gateway",
        source="gateway.example (published ranges)",
    )
    assert (added, replaced) == (2, 0)
    table = networks.load(tmp_path)
    assert classify(facts(kind=CLICK, ip="198.51.100.5", table=table)).reason == "Example Gateway"
    assert networks.update(
        tmp_path, "198.51.100.0/24\n", cls="scanner", label="Example Gateway", source="gateway.example (published ranges)"
    ) == (1, 2)
    assert classify(facts(kind=CLICK, ip="203.0.113.9", table=networks.load(tmp_path))).cls == "human"  # the old list is gone
    for bad in ("not-a-network\n", "10.0.0.0/8\n"):
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
    seen = [
        watch.observe_click(
            copy_id=1, link_id=link, event_id=10 + link, ip="9.9.9.9", agent=CHROME, at=T0 + timedelta(milliseconds=300 * link)
        )
        for link in (1, 2, 3)
    ]
    assert seen[:2] == [([], []), ([], [])]
    assert seen[2] == ([11, 12, 13], [])
    assert classify(facts(kind=CLICK, burst=True)).cls == "scanner"


def test_three_links_spread_over_more_than_two_seconds_is_not_a_burst():
    watch = ScannerWatch()
    for link in (1, 2, 3):
        assert watch.observe_click(
            copy_id=1, link_id=link, event_id=link, ip="9.9.9.9", agent=CHROME, at=T0 + timedelta(seconds=1.5 * link)
        ) == ([], [])


def test_same_link_clicked_three_times_is_not_a_burst():
    watch = ScannerWatch()
    for n in range(3):
        assert watch.observe_click(copy_id=1, link_id=1, event_id=n, ip="9.9.9.9", agent=CHROME, at=T0) == ([], [])


def test_the_scanners_own_pixel_fetch_in_the_burst_window_is_the_scanner_too():
    watch = ScannerWatch()
    watch.observe_open(copy_id=1, event_id=5, ip="9.9.9.9", agent=CHROME, at=T0)  # the gateway fetched the pixel first
    watch.observe_open(copy_id=1, event_id=6, ip="81.2.69.142", agent=CHROME, at=T0)  # the person, elsewhere
    watch.observe_open(copy_id=2, event_id=7, ip="9.9.9.9", agent=CHROME, at=T0)  # another copy
    found = [
        watch.observe_click(
            copy_id=1, link_id=link, event_id=10 + link, ip="9.9.9.9", agent=CHROME, at=T0 + timedelta(milliseconds=300 * link)
        )
        for link in (1, 2, 3)
    ]
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

    rows = [
        Network("17.0.0.0/8", "machine", "Apple", "s", "d"),
        Network("17.5.7.0/24", "scanner", "Inside Apple", "s", "d"),
        Network("2a02:26f7::/32", "relay", "Relay", "s", "d"),
    ]
    rows += [
        Network(f"172.{(n >> 8) & 255}.{n & 255}.0/27", "relay", "iCloud Private Relay egress", "s", "d") for n in range(50_000)
    ]
    table = NetworkTable(rows)
    assert table.lookup("17.5.7.9").label == "Inside Apple" and table.lookup("17.5.8.9").label == "Apple"
    assert table.lookup("172.3.4.30").label == "iCloud Private Relay egress" and table.lookup("172.3.4.33") is None
    assert table.lookup("2a02:26f7:b3c0::1").label == "Relay" and table.lookup("not an ip") is None
    # a lookup tries one dictionary per prefix length present (/24, /27, /8), not every network
    assert [length for length, _, _ in table._tables[4]] == [27, 24, 8] and len(table._tables[6]) == 1


# One address from each vendor list LiveFeed ships (data/networks.csv), clicking with an ordinary
# browser's user agent and headers: a gateway's detonation browser looks exactly like this.
@pytest.mark.parametrize(
    "ip, vendor",
    [
        ("40.107.22.45", "Microsoft Exchange Online Protection"),
        ("2a01:111:f400:7e1b::1", "Microsoft Exchange Online Protection"),
        ("148.163.150.12", "Proofpoint"),
        ("67.231.153.9", "Proofpoint"),
        ("205.139.110.60", "Mimecast"),
        ("91.220.42.201", "Mimecast"),
        ("216.82.250.4", "Broadcom Symantec"),
        ("85.158.138.70", "Broadcom Symantec"),
        ("64.235.150.33", "Barracuda"),
    ],
)
def test_mail_security_gateways_from_their_published_networks_are_scanners(ip, vendor):
    verdict = classify(facts(kind=CLICK, ip=ip))
    assert verdict.cls == "scanner" and verdict.reason.startswith(vendor)
    assert classify(facts(kind=OPEN, ip=ip)).cls == "scanner"


def test_every_shipped_network_names_its_source_and_date():
    for network in NETWORKS.networks:
        assert network.source and len(network.date) == 10 and network.cls in ("machine", "scanner", "relay", "cloud"), network


def test_a_cloud_network_is_a_signal_never_a_verdict_alone():
    """Azure and Google Cloud host gateways' detonation browsers and people's virtual desktops alike."""
    azure = "20.61.4.10"
    assert NETWORKS.lookup(azure).cls == "cloud"
    assert classify(facts(kind=CLICK, ip=azure)).cls == "human"
    assert classify(facts(kind=OPEN, ip=azure, languages=False)).cls == "human"  # opens are not judged by it
    verdict = classify(facts(kind=CLICK, ip=azure, languages=False))
    assert (verdict.cls, verdict.reason) == (
        "scanner",
        "Clicked from a cloud network (Microsoft Azure) without a browser's Accept-Language",
    )
    verdict = classify(facts(kind=CLICK, ip="34.120.3.4", recheck=True))
    assert verdict.cls == "scanner" and "Re-check" in verdict.reason and "Google Cloud" in verdict.reason
    assert classify(facts(kind=CLICK, ip="81.2.69.142", recheck=True)).cls == "human"  # the reader, after the scanner


def test_a_click_naming_a_browser_without_its_headers_is_a_script():
    verdict = classify(facts(kind=CLICK, languages=False))
    assert verdict.cls == "scanner" and "Chrome 131" in verdict.reason and "Accept-Language" in verdict.reason
    assert classify(facts(kind=CLICK)).cls == "human"
    outlook = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17928; Pro)"
    assert classify(facts(outlook, kind=OPEN, languages=False)).cls == "human"  # a mail client's fetch is not a browser's


def test_a_scanner_re_check_is_remembered_per_copy_for_thirty_minutes():
    watch = ScannerWatch()
    watch.scanned(copy_id=7, at=T0)
    assert watch.rechecking(copy_id=7, at=T0 + timedelta(minutes=29))
    assert not watch.rechecking(copy_id=7, at=T0 + timedelta(minutes=31))
    assert not watch.rechecking(copy_id=8, at=T0 + timedelta(minutes=1))
    watch.observe_click(copy_id=9, link_id=1, event_id=1, ip="40.107.1.1", agent=CHROME, at=T0)
    watch.observe_click(copy_id=9, link_id=2, event_id=2, ip="40.107.1.1", agent=CHROME, at=T0)
    watch.observe_click(copy_id=9, link_id=3, event_id=3, ip="40.107.1.1", agent=CHROME, at=T0)
    assert watch.rechecking(copy_id=9, at=T0 + timedelta(minutes=5))  # a burst is a scanner's fetch too


@pytest.mark.parametrize(
    "text, expected",
    [
        # Azure IP Ranges and Service Tags (ServiceTags_Public_*.json)
        (
            '{"changeNumber": 1, "cloud": "Public", "values": [{"name": "AzureCloud", "id": "AzureCloud", "properties": '
            '{"changeNumber": 1, "region": "", "platform": "Azure", "systemService": "", '
            '"addressPrefixes": ["13.64.0.0/11", "2603:1000::/25"]}}]}',
            ["13.64.0.0/11", "2603:1000::/25"],
        ),
        # Microsoft 365 endpoints web service (endpoints.office.com/endpoints/worldwide)
        (
            '[{"id": 9, "serviceArea": "Exchange", "ips": ["40.92.0.0/15", "40.107.0.0/16"], "tcpPorts": "25"}, '
            '{"id": 10, "serviceArea": "Exchange", "ips": ["40.92.0.0/15"]}, {"id": 46, "serviceArea": "Common", "urls": ["x"]}]',
            ["40.92.0.0/15", "40.107.0.0/16"],
        ),
        # AWS ip-ranges.json
        (
            '{"syncToken": "1", "prefixes": [{"ip_prefix": "3.2.34.0/26", "region": "af-south-1", "service": "AMAZON"}], '
            '"ipv6_prefixes": [{"ipv6_prefix": "2600:1f14::/35", "region": "us-west-2", "service": "AMAZON"}]}',
            ["3.2.34.0/26", "2600:1f14::/35"],
        ),
        # Google Cloud cloud.json
        (
            '{"syncToken": "1", "prefixes": [{"ipv4Prefix": "34.1.208.0/20", "service": "Google Cloud", "scope": "africa-south1"},'
            ' {"ipv6Prefix": "2600:1900:8000::/44", "service": "Google Cloud"}]}',
            ["34.1.208.0/20", "2600:1900:8000::/44"],
        ),
    ],
)
def test_vendors_json_lists_are_read(text, expected):
    from livefeed.core.networks import parse

    found = parse(text, cls="cloud", label="Cloud", source="vendor.example", today=T0.date())
    assert sorted(n.cidr for n in found) == sorted(expected)


def test_a_json_list_without_networks_is_refused():
    from livefeed.core.model import Invalid
    from livefeed.core.networks import parse

    for bad in ('{"values": []}', '{"prefixes": [', '[{"id": 1, "urls": ["a.example"]}]', "[" * 100_000 + "]" * 100_000):
        with pytest.raises(Invalid):
            parse(bad, cls="cloud", label="Cloud", source="vendor.example", today=T0.date())
