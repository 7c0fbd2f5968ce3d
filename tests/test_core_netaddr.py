import ipaddress

import pytest

from livefeed.core.netaddr import client_ip

TRUSTED = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("127.0.0.1/32"))


@pytest.mark.parametrize(
    "peer, xff, expected",
    [
        ("203.0.113.9", None, "203.0.113.9"),
        ("203.0.113.9", "1.2.3.4", "203.0.113.9"),  # untrusted peer: header ignored
        ("10.0.0.2", "1.2.3.4", "1.2.3.4"),  # trusted proxy: its client
        ("10.0.0.2", "6.6.6.6, 1.2.3.4", "1.2.3.4"),  # right-most untrusted, spoofed left part ignored
        ("10.0.0.2", "1.2.3.4, 10.0.0.7", "1.2.3.4"),  # a chain of trusted proxies is walked
        ("10.0.0.2", "garbage, 1.2.3.4", "1.2.3.4"),
        ("10.0.0.2", "1.2.3.4, garbage", "10.0.0.2"),  # malformed hop: stop trusting there
        ("127.0.0.1", "[2001:db8::1]:443", "2001:db8::1"),
        ("::ffff:203.0.113.9", None, "203.0.113.9"),
    ],
)
def test_client_ip(peer, xff, expected):
    assert str(client_ip(peer, xff, TRUSTED)) == expected
