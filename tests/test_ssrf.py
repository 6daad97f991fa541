"""Webhooks reach public addresses only, unless the operator opens a range."""

import ipaddress
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from api.app import create_app
from core.db import Database
from core.netguard import Refused, check_url, is_allowed, networks, resolve
from delivery.jobs import Job, Result
from delivery.transport import Transport
from models.enums import Role
from tests.conftest import make_settings
from tests.receiver import Receiver, running
from tests.support import Network

BLOCKED = [
    "127.0.0.1",
    "10.1.2.3",
    "172.16.5.4",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "224.0.0.1",
    "0.0.0.0",
    "255.255.255.255",
    "::",
    "::1",
    "fe80::1",
    "fc00::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "2002:7f00:1::",
    "64:ff9b::7f00:1",
    "ff02::1",
    # forms that carry or reach IPv4 in ways the guard once missed
    "::127.0.0.1",  # IPv4-compatible
    "::10.0.0.1",
    "::8.8.8.8",  # deprecated (RFC 4291) whatever it embeds
    "::ffff:0:127.0.0.1",  # SIIT IPv4-translated
    "::ffff:0:8.8.8.8",
    "64:ff9b:1::7f00:1",  # local-use NAT64 (RFC 8215): translated to anything
    "64:ff9b:1::808:808",
    "fec0::1",  # site-local
    "2002:a00:1::",  # 6to4 around 10.0.0.1
    "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo around 10.0.0.1
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo: refused whatever it carries
    "100::1",  # discard-only
    "5f00::1",  # SRv6 SIDs, outside global unicast
    "2001:db8::1",
    "3fff::1",
    "0.1.2.3",
    "100.127.255.254",
    "192.0.0.9",
    "192.88.99.1",  # 6to4 relay anycast
    "198.18.0.1",
    "240.0.0.1",
    "ff0e::1",
]
PUBLIC = ["8.8.8.8", "2001:4860:4860::8888", "2002:808:808::", "64:ff9b::808:808", "::ffff:8.8.8.8"]


@pytest.mark.parametrize("address", BLOCKED)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert not is_allowed(ipaddress.ip_address(address), [])


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_in_any_form_are_allowed(address: str) -> None:
    assert is_allowed(ipaddress.ip_address(address), [])


def test_opened_ranges() -> None:
    opened = networks(["127.0.0.0/8"])
    assert is_allowed(ipaddress.ip_address("127.0.0.1"), opened)
    assert is_allowed(ipaddress.ip_address("::ffff:127.0.0.1"), opened)
    assert not is_allowed(ipaddress.ip_address("10.0.0.1"), opened)


@pytest.mark.parametrize(
    "host", ["localhost", "2130706433", "0177.0.0.1", "0x7f000001", "127.1", "::127.0.0.1"]
)
def test_names_and_odd_literals_resolving_to_loopback_are_refused(host: str) -> None:
    with pytest.raises(Refused):
        resolve(host, 443, [])


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://①②⑦.0.0.1/h", "127.0.0.1"),  # what aiohttp connects to
        ("https://１２７.0.0.1/h", "127.0.0.1"),
        ("https://127。0。0。1/h", "127.0.0.1"),
        ("https://[::ffff:127.0.0.1]/h", "::ffff:7f00:1"),
        ("https://Example.ORG:8443/h", "example.org"),
        ("https://bücher.example/h", "xn--bcher-kva.example"),
    ],
)
def test_the_host_vetted_is_the_one_connected_to(url: str, host: str) -> None:
    assert check_url(url, allow_http=False)[0] == host


@pytest.mark.parametrize(
    "url",
    [
        "http://example.org/h",
        "ftp://example.org/h",
        "https://user:pw@example.org/h",
        "https:///nohost",
        "https://example.org:99999/h",
        "https://2130706433/h",  # IPv4 spelt as one number, octal or hex
        "https://0x7f.1/h",
        "https://0177.0.0.1/h",
        "https://134744072/h",  # 8.8.8.8, which aiohttp would never connect to
        "https://[::1/h",
        "https://[zz]/h",
    ],
)
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(Refused):
        check_url(url, allow_http=False)


@pytest.fixture
async def strict(database_url: str, tmp_path: Path) -> AsyncIterator[Network]:
    """An app as deployed: https only, nothing private opened."""
    settings = make_settings(
        database_url, tmp_path, webhook_allow_http=False, webhook_allowed_networks=[]
    )
    app = create_app(settings)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://rilon.test") as http:
            db = Database(database_url)
            yield Network.seed(db, http)
            db.close()


async def test_subscribing_to_private_targets_is_refused(strict: Network) -> None:
    admin = await strict.headers(Role.AGENCY_ADMIN, "MY-MMEA")
    for url in (
        "http://example.org/h",
        "https://127.0.0.1/h",
        "https://localhost:8443/h",
        "https://[::1]/h",
        "https://169.254.169.254/latest",
        "https://2130706433/h",
        "https://10.0.0.8/h",
        "https://[::127.0.0.1]/h",
        "https://[::ffff:0:127.0.0.1]/h",
        "https://[64:ff9b:1::a00:1]/h",
        "https://[fec0::1]/h",
        "https://[2002:a00:1::]/h",
        "https://0x7f.1/h",
        "https://①②⑦.0.0.1/h",
        "https://localhost./h",
        "https://a..b/h",  # once a 500: IDNA cannot encode an empty label
        "https://" + "a" * 70 + ".example/h",
        "https://[::1/h",
        "https://[zz]/h",
    ):
        response = await strict.http.post(
            "/v1/subscriptions", json={"url": url, "event_types": ["*"]}, headers=admin
        )
        assert response.status_code == 422, url
        assert response.json()["errors"][0]["field"] == "url"
    listed = await strict.http.get("/v1/subscriptions", headers=admin)
    assert listed.json() == []


async def test_changing_the_url_to_a_private_target_is_refused(network: Network) -> None:
    """Even where 127.0.0.0/8 is opened, as in tests: these forms are not that range."""
    admin = await network.headers(Role.AGENCY_ADMIN, "MY-MMEA")
    created = await network.http.post(
        "/v1/subscriptions",
        json={"url": "http://127.0.0.1:9/h", "event_types": ["*"]},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    url = f"/v1/subscriptions/{created.json()['id']}"
    for target in ("http://[::127.0.0.1]:9/h", "http://[fec0::1]:9/h", "http://0x7f.1:9/h"):
        response = await network.http.patch(url, json={"url": target}, headers=admin)
        assert response.status_code == 422, (target, response.text)
        assert response.json()["errors"][0]["field"] == "url"
    kept = await network.http.get(url, headers=admin)
    assert kept.json()["url"] == "http://127.0.0.1:9/h"


def _ping(url: str) -> Job:
    return Job("d", "s", "MY-MMEA", url, ("whsec_" + "A" * 44,), "e", "ping", "{}", 1, None, None)


async def _send(url: str, allowed: list[str]) -> Result:
    """One delivery attempt through a transport that opens only `allowed`."""
    transport = Transport(networks(allowed), allow_http=True)
    await transport.start()
    try:
        return await transport.post(_ping(url), {})
    finally:
        await transport.close()


async def test_delivery_time_check_blocks_a_name_that_resolves_to_loopback() -> None:
    """Subscribed while allowed (or before DNS changed): the transport still refuses."""
    async with running(Receiver()) as receiver:
        refused = await _send(receiver.url(host="localhost"), [])
        refused_literal = await _send(receiver.url(), [])
        assert refused.status is None
        assert refused.error is not None
        assert "refused" in refused.error
        assert refused_literal.error is not None
        assert "refused" in refused_literal.error
        assert receiver.received == []
        allowed = await _send(receiver.url(host="localhost"), ["127.0.0.0/8"])
        assert allowed.status == 200
        assert len(receiver.received) == 1


async def test_delivery_time_check_vets_the_host_aiohttp_connects_to() -> None:
    """Digits aiohttp reads as 127.0.0.1 once went straight to it (a literal skips the
    resolver); embedded-IPv4 forms are refused even where 127.0.0.0/8 is opened."""
    async with running(Receiver()) as receiver:
        port = receiver.url().split(":")[2].split("/")[0]
        for host, opened in (
            ("①②⑦.0.0.1", []),
            ("１２７.0.0.1", []),
            ("[::127.0.0.1]", ["127.0.0.0/8"]),
            ("[::ffff:0:127.0.0.1]", ["127.0.0.0/8"]),
            ("[64:ff9b:1::7f00:1]", ["127.0.0.0/8"]),
            ("[fec0::1]", ["127.0.0.0/8"]),
        ):
            result = await _send(f"http://{host}:{port}/hook", opened)
            assert result.status is None, host
            assert result.error is not None
            assert result.error.startswith("refused"), (host, result.error)
        assert receiver.received == []


async def test_redirects_are_failures_and_not_followed() -> None:
    async with running(Receiver()) as receiver:
        receiver.script["/moved"] = [307]
        result = await _send(receiver.url("/moved"), ["127.0.0.0/8"])
        assert result.status == 307
        assert not result.delivered
        assert len(receiver.received) == 1


async def test_a_url_is_vetted_once_found_good_and_every_time_it_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The transport remembers the URLs it found good (delivery/transport.py `_vet`), never a
    refusal: a refused URL is refused at every attempt."""
    vetted: list[str] = []

    def counted(url: str, allow_http: bool) -> tuple[str, int]:
        vetted.append(url)
        return check_url(url, allow_http)

    monkeypatch.setattr("delivery.transport.check_url", counted)
    async with running(Receiver()) as receiver:
        transport = Transport(networks(["127.0.0.0/8"]), allow_http=True)
        closed = Transport(networks([]), allow_http=True)
        await transport.start()
        await closed.start()
        try:
            for _ in range(3):
                assert (await transport.post(_ping(receiver.url()), {})).status == 200
                refused = await closed.post(_ping(receiver.url()), {})
                assert refused.error is not None
                assert refused.error.startswith("refused")
        finally:
            await transport.close()
            await closed.close()
        assert len(receiver.received) == 3
    assert vetted == [receiver.url()] * 4  # once by the open transport, three times refused
