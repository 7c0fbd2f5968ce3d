"""Hosts that users name: a stored mail password never leaves for another host, and every
connection a rep or admin can cause goes through one policy (no loopback, private, link-local or
metadata addresses unless allowlisted; the protocol's ports; TLS; failures in our words, all
taking the same time)."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest
from sqlalchemy import insert

from livefeed.core.outbound import IMAP_PORTS, SMTP_PORTS, Allowlist, is_public, parse_allowlist, refusal
from livefeed.db.tables import mailboxes, smtp_accounts
from livefeed.edge.mailwatch import mailbox_vault
from livefeed.integrations.outbound import Outbound, OutboundError, system_resolver
from livefeed.integrations.smtp import smtp_vault

from .conftest import LiveServer, free_port

PASSWORD = "the-reps-real-password"


class Listener:
    """A TCP server on loopback that records everything sent to it; `banner` is sent first."""

    def __init__(self, banner: bytes = b""):
        self.banner, self.received, self.connections = banner, bytearray(), 0

    async def __aenter__(self):
        async def handle(reader, writer):
            self.connections += 1
            if self.banner:
                writer.write(self.banner)
                await writer.drain()
            try:
                while chunk := await reader.read(4096):
                    self.received += chunk
            finally:
                writer.close()

        self.server = await asyncio.start_server(handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc):
        self.server.close()


# --- the decision -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "0.0.0.0",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "224.0.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::a9fe:a9fe",
        "2002:7f00:1::",
    ],
)
def test_non_public_addresses_are_refused(address):
    ip = ipaddress.ip_address(address)
    assert not is_public(ip)
    found = refusal("mail.example.com", 993, [ip], ports=IMAP_PORTS, plain=False, allow=Allowlist())
    assert found is not None and found.field == "host" and "private, loopback or link-local" in found.message


def test_a_public_host_on_its_ports_over_tls_is_allowed_and_anything_else_is_named():
    public = [ipaddress.ip_address("142.250.102.108")]
    assert refusal("imap.gmail.com", 993, public, ports=IMAP_PORTS, plain=False, allow=Allowlist()) is None
    assert refusal("imap.gmail.com", 22, public, ports=IMAP_PORTS, plain=False, allow=Allowlist()).field == "port"
    assert refusal("imap.gmail.com", 143, public, ports=IMAP_PORTS, plain=True, allow=Allowlist()).field == "security"
    # one private address among public ones is enough to refuse (a name can resolve to both)
    mixed = public + [ipaddress.ip_address("10.0.0.5")]
    assert refusal("smtp.example.com", 587, mixed, ports=SMTP_PORTS, plain=False, allow=Allowlist()).field == "host"


def test_the_allowlist_permits_by_network_or_by_name_any_port_and_plain_text():
    allow = parse_allowlist("10.0.0.0/8, mail.internal., ::1")
    private = [ipaddress.ip_address("10.9.8.7")]
    assert refusal("relay.corp", 2500, private, ports=SMTP_PORTS, plain=True, allow=allow) is None
    assert (
        refusal("MAIL.internal", 1143, [ipaddress.ip_address("192.168.5.5")], ports=IMAP_PORTS, plain=True, allow=allow) is None
    )
    assert (
        refusal("other.internal", 993, [ipaddress.ip_address("192.168.5.5")], ports=IMAP_PORTS, plain=False, allow=allow).field
        == "host"
    )
    with pytest.raises(ValueError, match="bad host"):
        parse_allowlist("10.0.0.0/8, bad host")


@pytest.mark.parametrize("spelling", ["127.1", "0", "2130706433", "0x7f000001", "localhost", "127.000.000.001"])
async def test_every_spelling_of_loopback_resolves_to_loopback_and_is_refused(spelling):
    outbound = Outbound(Allowlist())
    with pytest.raises(OutboundError) as refused:
        await outbound.vet(spelling, 993, ports=IMAP_PORTS, plain=False)
    assert refused.value.field == "host"
    assert all(not is_public(a) for a in await system_resolver(spelling, 993))


async def test_a_name_resolving_to_the_metadata_service_is_refused():
    async def resolver(host, port):
        return [ipaddress.ip_address("93.184.215.14"), ipaddress.ip_address("169.254.169.254")]  # rebinding-style answer

    outbound = Outbound(Allowlist(), resolver=resolver)
    with pytest.raises(OutboundError, match="169.254.169.254"):
        await outbound.vet("evil.example", 993, ports=IMAP_PORTS, plain=False)
    with pytest.raises(OutboundError):
        await outbound.check_url("https://evil.example/")


async def test_a_closed_port_answers_only_when_the_whole_timeout_has_passed():
    waited: list[float] = []

    async def sleep(seconds):
        waited.append(seconds)

    outbound = Outbound(parse_allowlist("127.0.0.1"), timeout=7.5, sleep=sleep, clock=lambda: 100.0)
    with pytest.raises(OutboundError, match="refused") as failed:
        await outbound.connect("127.0.0.1", free_port(), ports=IMAP_PORTS, plain=True)
    assert failed.value.field == "host" and waited == [7.5]  # as long as a silent open port takes


# --- through the API ----------------------------------------------------------------------------


async def test_a_stored_imap_password_is_never_sent_to_a_new_host_port_or_username(server, rep, engine, clock):
    with engine.begin() as conn:
        conn.execute(
            insert(mailboxes).values(
                user_id=rep.id,
                workspace_id=rep.workspace_id,
                host="127.0.0.1",
                port=993,
                security="plain",
                username=rep.email,
                secret=mailbox_vault(server.runtime.settings.secret_key).seal(PASSWORD),
                folder="INBOX",
                status="idle",
                created_at=clock(),
                updated_at=clock(),
            )
        )
    async with Listener(b"* OK IMAP4rev1 ready\r\n") as trap, server.client() as client:
        base = {"host": "127.0.0.1", "port": trap.port, "security": "plain", "username": rep.email, "folder": "INBOX"}
        answers = [
            await client.post("/api/v1/mailbox/test", json=base, headers=rep.headers),
            await client.put("/api/v1/mailbox", json=base, headers=rep.headers),
            await client.post("/api/v1/mailbox/test", json={**base, "host": "localhost", "port": 993}, headers=rep.headers),
            await client.post(
                "/api/v1/mailbox/test", json={**base, "port": 993, "username": "someone@else.test"}, headers=rep.headers
            ),
        ]
    for answer in answers:
        assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["body", "password"], answer.text
        assert "changed" in answer.json()["detail"][0]["msg"]
    assert trap.connections == 0 and PASSWORD.encode() not in trap.received


async def test_a_stored_smtp_password_is_never_sent_to_a_new_host(server, rep, engine, clock):
    with engine.begin() as conn:
        conn.execute(
            insert(smtp_accounts).values(
                user_id=rep.id,
                workspace_id=rep.workspace_id,
                host="127.0.0.1",
                port=587,
                security="plain",
                username="rita",
                secret=smtp_vault(server.runtime.settings.secret_key).seal(PASSWORD),
                created_at=clock(),
                updated_at=clock(),
            )
        )
    async with Listener(b"220 trap ESMTP\r\n") as trap, server.client() as client:
        moved = {"host": "127.0.0.1", "port": trap.port, "security": "plain", "username": "rita"}
        tested = await client.post("/api/v1/smtp/test", json=moved, headers=rep.headers)
        saved = await client.put("/api/v1/smtp", json=moved, headers=rep.headers)
        secured = await client.post("/api/v1/smtp/test", json={**moved, "port": 587, "security": "tls"}, headers=rep.headers)
    for answer in (tested, saved, secured):
        assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["body", "password"], answer.text
    assert trap.connections == 0 and PASSWORD.encode() not in trap.received


@pytest.fixture
async def strict_server(settings, clock):
    """The product as shipped: nothing allowlisted."""
    live = await LiveServer(settings.with_(outbound_allow=Allowlist()), clock).start()
    yield live
    await live.stop()


@pytest.mark.parametrize("host", ["127.1", "0", "2130706433", "0x7f000001", "localhost", "[::1]", "169.254.169.254", "10.0.0.1"])
async def test_reps_cannot_point_the_server_at_internal_hosts(strict_server, rep, host):
    async with strict_server.client() as client:
        imap = await client.post(
            "/api/v1/mailbox/test",
            headers=rep.headers,
            json={"host": host, "port": 993, "security": "tls", "username": "x", "password": "y"},
        )
        smtp = await client.post(
            "/api/v1/smtp/test",
            headers=rep.headers,
            json={"host": host, "port": 465, "security": "tls", "username": "x", "password": "y"},
        )
    for answer in (imap, smtp):
        assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["body", "host"], answer.text
        assert "private, loopback or link-local" in answer.json()["detail"][0]["msg"]


async def test_public_hosts_only_on_mail_ports_and_only_over_tls(strict_server, rep):
    async def resolver(host, port):  # a public name; the policy refuses before any connection is tried
        return [ipaddress.ip_address("93.184.215.14")]

    strict_server.runtime.outbound.resolver = resolver
    async with strict_server.client() as client:
        port = await client.post(
            "/api/v1/smtp/test",
            headers=rep.headers,
            json={"host": "mail.example.net", "port": 8080, "security": "tls", "username": "x", "password": "y"},
        )
        plain = await client.post(
            "/api/v1/mailbox/test",
            headers=rep.headers,
            json={"host": "mail.example.net", "port": 143, "security": "plain", "username": "x", "password": "y"},
        )
    assert port.status_code == 422 and port.json()["detail"][0]["loc"] == ["body", "port"]
    assert plain.status_code == 422 and plain.json()["detail"][0]["loc"] == ["body", "security"]


async def test_the_far_sides_banner_never_comes_back(server, rep):
    async with Listener(b"SSH-2.0-OpenSSH_9.6 internal-build-secret\r\n") as ssh, server.client() as client:
        imap = await client.post(
            "/api/v1/mailbox/test",
            headers=rep.headers,
            json={"host": "127.0.0.1", "port": ssh.port, "security": "plain", "username": "x", "password": "y"},
        )
        smtp = await client.post(
            "/api/v1/smtp/test",
            headers=rep.headers,
            json={"host": "127.0.0.1", "port": ssh.port, "security": "plain", "username": "x", "password": "y"},
        )
    for answer, protocol in ((imap, "IMAP"), (smtp, "SMTP")):
        assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["body", "host"], answer.text
        assert "internal-build-secret" not in answer.text and "OpenSSH" not in answer.text
        assert f"did not answer as an {protocol} server" in answer.json()["detail"][0]["msg"]


async def test_connector_urls_are_parsed_not_prefix_matched(strict_server, rep):
    async with strict_server.client() as client:
        answers = [
            await client.put(
                "/api/v1/connectors/marketo",
                headers=rep.headers,
                json={"base_url": url, "client_id": "id", "client_secret": "secret"},
            )
            for url in ("http://127.0.0.1.attacker.example", "http://127.0.0.1:9", "https://169.254.169.254")
        ]
    for answer in answers:
        assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["body", "base_url"], answer.text
