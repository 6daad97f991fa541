"""The SSRF-safe HTTP transport for webhooks (aiohttp: see docs/PERFORMANCE.md, B2).

Every host is resolved by a resolver that keeps only allowed addresses (core/resolver.py:
threads of its own, one lookup a host at a time, answers kept a while); the connection goes
to a vetted address while Host and TLS SNI keep the name. Address
literals are vetted before any connection. No redirects, no proxies from the environment,
bounded time and a bounded read of the answer.
"""

import logging
import resource
import socket
import time
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from core.clock import utcnow
from core.netguard import Network, Refused, check_url, is_allowed, literal
from core.resolver import Resolver
from core.settings import Settings
from delivery.jobs import RETRY_AFTER_MAX_SECONDS, Job, Result

log = logging.getLogger(__name__)
MAX_EXCERPT = 500
MAX_READ = 64 * 1024


class VettedResolver(AbstractResolver):
    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        addresses = await self.resolver.resolve(host, port)
        return [
            ResolveResult(
                hostname=host,
                host=str(address),
                port=port,
                family=socket.AF_INET6 if address.version == 6 else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in addresses
        ]

    async def close(self) -> None:
        return None


# DESIGN.md: 5 s connect, 15 s in all; the defaults of the settings that change them
CONNECT_TIMEOUT: float = Settings.model_fields["webhook_connect_timeout_seconds"].default
TOTAL_TIMEOUT: float = Settings.model_fields["webhook_timeout_seconds"].default
# Sockets to receivers open at once, idle ones in the pool included (one receiver host: the
# pool reuses an idle connection before it opens one). Under steady load the pool holds its
# high-water mark: idle connections are taken oldest first, so none sits out its 15 s. The
# dispatcher's 256 slots, and three times as many requests held open by receivers that do not
# answer (delivery/dispatcher.py, HELD_SECONDS): with 256, 64 hanging partners stopped the rest.
MAX_CONNECTIONS = 1024
# Descriptors a process keeps for everything else (the database, clients, logs) at least.
OTHER_FILES = 1024
VETTED_URLS = 10_000  # remembered at most; past it the set starts again (one URL a subscription)


class Transport:
    def __init__(
        self,
        allowed: list[Network],
        allow_http: bool,
        max_connections: int = MAX_CONNECTIONS,
        connect_timeout: float = CONNECT_TIMEOUT,
        total_timeout: float = TOTAL_TIMEOUT,
    ):
        self.allowed = allowed
        self.allow_http = allow_http
        self.max_connections = max_connections
        self.timeout = aiohttp.ClientTimeout(total=total_timeout, sock_connect=connect_timeout)
        self.resolver = Resolver(allowed, timeout=connect_timeout)
        self._session: aiohttp.ClientSession | None = None
        self._vetted: set[str] = set()  # URLs found good (see `_vet`)

    async def start(self) -> None:
        allow_open_files(self.max_connections + OTHER_FILES)
        connector = aiohttp.TCPConnector(
            resolver=VettedResolver(self.resolver),
            limit=self.max_connections,
            use_dns_cache=False,
            enable_cleanup_closed=True,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            trust_env=False,
            timeout=self.timeout,
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        self.resolver.close()

    async def post(self, job: Job, headers: dict[str, str]) -> Result:
        assert self._session is not None, "transport not started"
        began = time.monotonic()
        try:
            self._vet(job.url)
            async with self._session.post(
                job.url, data=job.body.encode(), headers=headers, allow_redirects=False
            ) as response:
                excerpt = (await response.content.read(MAX_READ)).decode(errors="replace")
                excerpt = excerpt.replace("\x00", "\ufffd")  # PostgreSQL text cannot hold NUL
                latency = (time.monotonic() - began) * 1000
                ok = 200 <= response.status < 300
                return Result(
                    status=response.status,
                    latency_ms=latency,
                    error=None if ok else f"HTTP {response.status}",
                    excerpt=excerpt[:MAX_EXCERPT] or None,
                    retry_after=_retry_after(response.status, response.headers),
                )
        except Refused as exc:
            return Result(None, _ms(began), f"refused: {exc}")
        except aiohttp.ClientConnectorError as exc:
            refused = isinstance(exc.__cause__, Refused) or "resolves to an address" in str(exc)
            return Result(None, _ms(began), ("refused: " if refused else "connect: ") + str(exc))
        except TimeoutError:
            return Result(None, _ms(began), "timeout")
        except aiohttp.ClientError as exc:
            return Result(None, _ms(began), f"{type(exc).__name__}: {exc}"[:300])
        except Exception as exc:  # whatever a receiver answers, the attempt is recorded
            log.exception("webhook post failed unexpectedly; recorded as a failed attempt")
            return Result(None, _ms(began), type(exc).__name__)

    def _vet(self, url: str) -> None:
        """Refuse a URL webhooks may not post to. The verdict depends only on the URL and this
        transport's settings, so a URL found good is not parsed again (a fifth of a post's
        time here); a name's addresses are vetted at every connection all the same, by the
        resolver, and a refused URL is refused anew each time."""
        if url in self._vetted:
            return
        host, _port = check_url(url, self.allow_http)
        self._check_literal(host)
        if len(self._vetted) >= VETTED_URLS:
            self._vetted.clear()
        self._vetted.add(url)

    def _check_literal(self, host: str) -> None:
        """aiohttp connects to an address literal without asking the resolver: vet it here."""
        address = literal(host)
        if address is not None and not is_allowed(address, self.allowed):
            raise Refused(f"{host} is an address webhooks may not reach")


def allow_open_files(needed: int) -> None:
    """Raise this process's soft limit on open files to `needed` if it is lower, within the
    hard limit (systemd gives services 1,024 by default, fewer than MAX_CONNECTIONS needs)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        wanted = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        if wanted < needed:
            log.warning(
                "open files limited to %d; webhooks may need %d (raise the hard limit)",
                wanted,
                needed,
            )


def _ms(began: float) -> float:
    return (time.monotonic() - began) * 1000


def _retry_after(status: int, headers: Any) -> float | None:
    """Seconds a 429 or 503 asks to wait (RFC 9110: digits or an HTTP date), up to a day."""
    if status not in (429, 503):
        return None
    value = headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # "²".isdigit(), yet float("²") raises
        seconds = float(value)
    else:
        try:
            seconds = (parsedate_to_datetime(value) - utcnow()).total_seconds()
        except (TypeError, ValueError, OverflowError):
            return None
    return min(max(0.0, seconds), RETRY_AFTER_MAX_SECONDS)
