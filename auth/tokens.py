"""Access tokens: issued and verified here, and nowhere else."""

import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from jose import jwt
from jose.exceptions import ExpiredSignatureError, JWTError

from auth.principal import Claims
from auth.scopes import scopes_of
from core.errors import Unauthorized
from core.settings import Settings
from models.enums import AgencyType, Role, Scope

ALGORITHMS = ["HS256"]  # pinned: the header's alg is never trusted
MAX_TOKEN_BYTES = 4096
LEEWAY_SECONDS = 30  # clock skew between replicas, for `iat` only: `exp` is exact
FORBIDDEN_HEADERS = frozenset({"jku", "x5u", "jwk", "x5c", "crit"})
REQUIRED_CLAIMS = ("exp", "iat", "aud", "iss", "sub", "jti")
VERIFIED_CACHE_SIZE = 4096  # tokens; each is at most MAX_TOKEN_BYTES


class VerifiedTokens:
    """Tokens whose signature and claims were verified, with their claims, till they expire.

    A client sends the same token with every request for its lifetime; checking its signature
    again each time costs a sixth of a list request's event-loop time (PERFORMANCE.md). Only
    tokens that passed every check are kept, so forged ones cannot fill it, and a kept token
    still expires to the second. Revocation is not decided here: `load_principal` asks the
    database on every request.
    """

    def __init__(self, size: int = VERIFIED_CACHE_SIZE) -> None:
        self._size = size
        self._claims: dict[str, Claims] = {}
        self._lock = threading.Lock()

    def get(self, token: str) -> Claims | None:
        return self._claims.get(token)

    def put(self, token: str, claims: Claims) -> None:
        with self._lock:
            if len(self._claims) >= self._size:
                del self._claims[next(iter(self._claims))]  # the oldest
            self._claims[token] = claims


@dataclass(frozen=True)
class TokenKeys:
    signing_kid: str
    keys: Mapping[str, bytes]
    issuer: str
    audience: str
    ttl_seconds: int
    verified: VerifiedTokens = field(default_factory=VerifiedTokens, compare=False, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> "TokenKeys":
        kid, keys = settings.signing_keys()
        return cls(
            kid, keys, settings.jwt_issuer, settings.jwt_audience, settings.token_ttl_seconds
        )


def issue_token(
    keys: TokenKeys,
    *,
    client_id: str,
    agency: str,
    country: str,
    roles: Iterable[Role],
    scopes: Iterable[Scope],
    agency_type: AgencyType | None = None,
    now: float | None = None,
) -> tuple[str, Claims]:
    issued = int(now if now is not None else time.time())
    role_list = sorted(roles)
    scope_list = sorted(scopes)
    payload = {
        "iss": keys.issuer,
        "aud": keys.audience,
        "sub": client_id,
        "jti": uuid.uuid4().hex,
        "iat": issued,
        "exp": issued + keys.ttl_seconds,
        "agency": agency,
        "country": country,
        "roles": role_list,
        "scope": " ".join(scope_list),
    }
    if agency_type is not None:
        payload["agency_type"] = agency_type.value
    token = jwt.encode(
        payload,
        keys.keys[keys.signing_kid],
        algorithm=ALGORITHMS[0],
        headers={"kid": keys.signing_kid},
    )
    return token, _claims(payload)


def decode_token(token: str, keys: TokenKeys) -> Claims:
    """Verify a bearer token and return its claims; any doubt is a 401."""
    if len(token) > MAX_TOKEN_BYTES:
        raise Unauthorized("token too large")
    known = keys.verified.get(token)
    if known is not None:
        if _expired(known):
            raise Unauthorized("token expired: get a new one")
        return known
    try:
        header = jwt.get_unverified_header(token)
    except (JWTError, ValueError, TypeError) as exc:
        raise Unauthorized("malformed token") from exc
    if not isinstance(header, dict) or header.get("alg") not in ALGORITHMS:
        raise Unauthorized("token algorithm not accepted")
    if FORBIDDEN_HEADERS & header.keys():
        raise Unauthorized("token header names keys or extensions this service does not accept")
    kid = header.get("kid")
    if not isinstance(kid, str) or kid not in keys.keys:
        raise Unauthorized("token signed with an unknown key")
    try:
        payload = jwt.decode(
            token,
            keys.keys[kid],
            algorithms=ALGORITHMS,
            audience=keys.audience,
            issuer=keys.issuer,
            options={f"require_{c}": True for c in REQUIRED_CLAIMS},
        )
    except ExpiredSignatureError as exc:
        raise Unauthorized("token expired: get a new one") from exc
    except JWTError as exc:
        raise Unauthorized(f"invalid token: {exc}") from exc
    except Exception as exc:  # claim type confusion inside the library: still a bad token
        raise Unauthorized("invalid token claims") from exc
    if payload["aud"] != keys.audience:  # jose also takes a list naming us among others
        raise Unauthorized("token audience must be exactly this service")
    try:
        claims = _claims(payload)
    except (KeyError, TypeError, ValueError, OverflowError, OSError) as exc:
        raise Unauthorized("invalid token claims") from exc
    _check_times(payload, keys)
    keys.verified.put(token, claims)
    return claims


def _expired(claims: Claims) -> bool:
    """As python-jose decides (whole seconds, no leeway): expired once past `exp`."""
    return int(time.time()) > int(claims.expires_at.timestamp())


def _check_times(payload: Mapping[str, Any], keys: TokenKeys) -> None:
    iat, exp = payload["iat"], payload["exp"]
    if time.time() + LEEWAY_SECONDS < iat:
        raise Unauthorized("token issued in the future")
    if exp - iat > keys.ttl_seconds:
        raise Unauthorized("token lifetime exceeds the allowed maximum")


def _claims(payload: Mapping[str, Any]) -> Claims:
    for name in ("sub", "jti", "agency", "country", "scope"):
        if not isinstance(payload.get(name), str):
            raise TypeError(name)
    for name in ("iat", "exp"):
        if type(payload[name]) is not int:
            raise TypeError(name)
    raw_roles = payload.get("roles")
    if not isinstance(raw_roles, list):
        raise TypeError("roles")
    roles = frozenset(Role(role) for role in raw_roles)
    scopes = frozenset(Scope(scope) for scope in payload["scope"].split())
    if not scopes <= scopes_of(roles):
        raise ValueError("scope beyond roles")
    agency_type = payload.get("agency_type")
    if agency_type is not None and not isinstance(agency_type, str):
        raise TypeError("agency_type")
    return Claims(
        client_id=payload["sub"],
        agency=payload["agency"],
        country=payload["country"],
        roles=roles,
        scopes=scopes,
        jti=payload["jti"],
        issued_at=datetime.fromtimestamp(payload["iat"], UTC),
        expires_at=datetime.fromtimestamp(payload["exp"], UTC),
        agency_type=None if agency_type is None else AgencyType(agency_type),
    )
