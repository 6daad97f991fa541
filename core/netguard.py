"""Which network addresses webhooks may reach: public ones, plus what the operator allows.

Used when a subscription is made and again by the transport at every connection, on the
addresses actually resolved, so a name that later resolves somewhere private is still refused.
"""

import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class Refused(Exception):
    """The URL or address may not be reached."""


def networks(allowed: Iterable[str]) -> list[Network]:
    return [ipaddress.ip_network(network, strict=False) for network in allowed]


def _embedded(address: Address) -> Address | None:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, Teredo, NAT64), if any."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if address.teredo is not None:
            return address.teredo[1]
        if address in NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_allowed(address: Address, allowed: list[Network]) -> bool:
    if any(address in network for network in allowed):
        return True
    inner = _embedded(address)
    if inner is not None:
        return is_allowed(inner, allowed)
    return address.is_global and not address.is_multicast


def check_url(url: str, allow_http: bool) -> tuple[str, int]:
    """Refuse what is not an absolute https URL to a host name or address; return host, port."""
    parts = urlsplit(url)
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in schemes:
        raise Refused("webhook URLs must use https")
    if parts.username or parts.password:
        raise Refused("webhook URLs may not carry credentials")
    if not parts.hostname:
        raise Refused("webhook URL has no host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise Refused("webhook URL has a bad port") from exc
    return parts.hostname, port


def resolve(host: str, port: int, allowed: list[Network]) -> list[Address]:
    """Resolve once and keep only addresses that may be reached; none is a refusal."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise Refused(f"cannot resolve {host}") from exc
    found = {ipaddress.ip_address(info[4][0]) for info in infos}
    good = [address for address in found if is_allowed(address, allowed)]
    if not good or len(good) != len(found):
        raise Refused(f"{host} resolves to an address webhooks may not reach")
    return good
