"""Which network addresses webhooks may reach: public ones, plus what the operator allows.

Used when a subscription is made and again by the transport at every connection, on the
addresses actually resolved, so a name that later resolves somewhere private is still refused.
The host vetted is the one the HTTP client connects to: yarl's reading of the URL, the parser
aiohttp uses (`http://①②⑦.0.0.1/` is 127.0.0.1 to it, and must be to us).
"""

import ipaddress
import socket
from collections.abc import Iterable

from yarl import URL

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks(allowed: Iterable[str]) -> list[Network]:
    return [ipaddress.ip_network(network, strict=False) for network in allowed]


# IPv6 forms that carry an IPv4 address a router or the host's own stack may reach: judged by it.
MAPPED = ipaddress.ip_network("::ffff:0:0/96")
SIX_TO_FOUR = ipaddress.ip_network("2002::/16")
NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Public IPv6 unicast is allocated from 2000::/3 only. Outside it: unspecified, loopback,
# IPv4-compatible (::a.b.c.d), SIIT (::ffff:0:a.b.c.d), local-use NAT64 (64:ff9b:1::/48),
# discard, unique-local, link-local, site-local (fec0::/10), multicast.
GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")
# Special-purpose ranges (IANA registries), listed rather than left to `is_global`, whose
# answers differ between Python versions (3.11 calls ::a.b.c.d and SIIT addresses global).
REFUSED = networks(
    [
        "0.0.0.0/8",  # "this network"
        "10.0.0.0/8",
        "100.64.0.0/10",  # carrier-grade NAT
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local, cloud metadata
        "172.16.0.0/12",
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",
        "192.88.99.0/24",  # 6to4 relay anycast
        "192.168.0.0/16",
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, and the broadcast address
        "2001::/23",  # IETF protocol assignments, Teredo (2001::/32) among them
        "2001:db8::/32",  # documentation
        "3fff::/20",  # documentation
    ]
)


class Refused(Exception):
    """The URL or address may not be reached."""


def _embedded(address: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, well-known NAT64), if any."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address in MAPPED or address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in SIX_TO_FOUR:
        return address.sixtofour
    return None


def is_allowed(address: Address, allowed: list[Network]) -> bool:
    if any(address in network for network in allowed):
        return True
    inner = _embedded(address)
    if inner is not None:
        return is_allowed(inner, allowed)
    if any(address in network for network in REFUSED):
        return False
    if isinstance(address, ipaddress.IPv6Address) and address not in GLOBAL_UNICAST:
        return False
    return address.is_global and not address.is_multicast


def _odd_ipv4(host: str) -> bool:
    """A host resolvers read as IPv4 though it is not four decimal numbers (`2130706433`,
    `0x7f.1`, `0177.0.0.1`): aiohttp will not connect to it, so it is refused up front."""
    try:
        socket.inet_aton(host)
    except OSError:
        return False
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return True
    return False


def check_url(url: str, allow_http: bool) -> tuple[str, int]:
    """Refuse what is not an absolute https URL to a host name or address; return the host
    as the HTTP client connects to it (IDNA, no brackets) and the port."""
    try:
        parts = URL(url)
        host, port = parts.raw_host, parts.port
    except (ValueError, UnicodeError) as exc:
        raise Refused(f"webhook URL is not a valid URL ({exc})"[:200]) from exc
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in schemes:
        raise Refused("webhook URLs must use https")
    if parts.raw_user or parts.raw_password:
        raise Refused("webhook URLs may not carry credentials")
    if not host:
        raise Refused("webhook URL has no host")
    if port is None or not 0 < port < 65536:
        raise Refused("webhook URL has a bad port")
    if _odd_ipv4(host):
        raise Refused("write an IPv4 address as four decimal numbers, e.g. 203.0.113.7")
    return host, port


def literal(host: str) -> Address | None:
    """The address a host is, if it is an address literal rather than a name."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def resolve(host: str, port: int, allowed: list[Network]) -> list[Address]:
    """Resolve once and keep only addresses that may be reached; none is a refusal."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:  # UnicodeError: a label IDNA cannot encode
        raise Refused(f"cannot resolve {host}") from exc
    found = {ipaddress.ip_address(info[4][0]) for info in infos}
    good = [address for address in found if is_allowed(address, allowed)]
    if not good or len(good) != len(found):
        raise Refused(f"{host} resolves to an address webhooks may not reach")
    return good
