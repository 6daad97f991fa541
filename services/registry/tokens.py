"""Client-credentials token issue, revocation and the per-request liveness check."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from auth.policy import can_manage_clients
from auth.principal import Claims, Principal
from auth.scopes import scopes_of
from auth.tokens import TokenKeys, issue_token
from core.clock import utcnow
from core.db import Database
from core.errors import BadRequest, Forbidden, Unauthorized
from models.enums import AgencyType, Role, Scope
from models.inputs import FORBIDDEN
from models.registry import Agency, Client
from models.tokens import Me, RevokedToken, TokenResponse
from services.registry.members import get_agency
from services.registry.standing import STANDINGS, standing_changed


@dataclass(frozen=True)
class _Credential:
    secret_hash: str
    active: bool
    agency: str
    country: str
    roles: list[str]
    agency_type: str


def _find_credential(session: Session, client_id: str) -> _Credential | None:
    if FORBIDDEN.search(client_id):
        return None  # no client has one, and PostgreSQL cannot even compare a NUL
    row = (
        session.connection()
        .execute(
            sa.select(
                col(Client.secret_hash),
                col(Client.active),
                col(Client.agency),
                col(Agency.country),
                col(Client.roles),
                col(Agency.type),
            )
            .join(Agency, col(Agency.code) == col(Client.agency))
            .where(col(Client.client_id) == client_id)
        )
        .first()
    )
    return None if row is None else _Credential(*row)


# Checks a secret against a stored hash, or against none (an unknown or inactive client) at the
# same cost; api/throttle.py adds the limits.
Verify = Callable[[str | None, str], Awaitable[bool]]


async def issue(
    db: Database,
    keys: TokenKeys,
    client_id: str,
    secret: str,
    scope: str | None,
    verify: Verify,
) -> tuple[TokenResponse, Claims]:
    """Exchange client credentials for an access token (RFC 6749 §4.4)."""
    credential = await db.read(_find_credential, client_id)
    usable = credential if credential is not None and credential.active else None
    if not await verify(usable.secret_hash if usable else None, secret) or usable is None:
        raise Unauthorized("invalid client credentials", error="invalid_client")
    credential = usable
    roles = [Role(role) for role in credential.roles]
    granted = scopes_of(roles)
    if scope:
        granted = _narrowed(granted, scope)
    token, claims = issue_token(
        keys,
        client_id=client_id,
        agency=credential.agency,
        country=credential.country,
        roles=roles,
        scopes=granted,
        agency_type=AgencyType(credential.agency_type),
    )
    response = TokenResponse(
        access_token=token, expires_in=keys.ttl_seconds, scope=" ".join(sorted(claims.scopes))
    )
    return response, claims


_LIVENESS = sa.text(
    "SELECT client.active, client.agency, agency.type, agency.country,"
    " EXISTS (SELECT 1 FROM revoked_token WHERE revoked_token.jti = :jti)"
    " FROM client JOIN agency ON agency.code = client.agency"
    " WHERE client.client_id = :client_id"
)


def _narrowed(held: frozenset[Scope], requested: str) -> frozenset[Scope]:
    """The requested scopes this client holds (RFC 6749 §3.3); none of them is an error."""
    try:
        wanted = {Scope(name) for name in requested.split()}
    except ValueError as exc:
        raise BadRequest(
            f"unknown scope in {requested!r}", extra={"error": "invalid_scope"}
        ) from exc
    granted = frozenset(wanted & held)
    if not granted:
        raise BadRequest(
            "this client holds none of the requested scopes; ask for none to get all it holds",
            extra={"error": "invalid_scope"},
        )
    return granted


def load_principal(session: Session, claims: Claims) -> Principal:
    """Complete verified claims from the registry; a revoked token or inactive client is a 401.

    This runs for every authenticated request, hence one plain indexed query, and once per
    token per transaction (`services.registry.standing`): the writer runs a batch of requests
    in one, often many of them with one token. A change committed elsewhere while the batch
    runs is as if committed after it: the batch was drained from the queue before it began,
    so none of its requests arrived after that change was answered.
    """
    agency_type = _standing(
        session, claims.jti, claims.client_id, claims.agency, claims.country, claims.agency_type
    )
    return _principal(claims, AgencyType(agency_type))


def check_standing(session: Session, principal: Principal) -> None:
    """`load_principal`'s check again, for a caller already known: a request that waits (a
    feed long poll) must not outlive its token's revocation or its client's deactivation."""
    _standing(
        session,
        principal.jti,
        principal.client_id,
        principal.agency,
        principal.country,
        principal.agency_type,
    )


def _standing(
    session: Session,
    jti: str,
    client_id: str,
    agency: str,
    country: str,
    agency_type: AgencyType | None,
) -> str:
    """The agency's type in the registry, if the token is in good standing; else a 401."""
    looked_up: dict[tuple[str, str], tuple[Any, ...] | None]
    looked_up = session.info.setdefault(STANDINGS, {})
    key = (jti, client_id)
    if key in looked_up:
        row = looked_up[key]
    else:
        found = (
            session.connection().execute(_LIVENESS, {"jti": jti, "client_id": client_id}).first()
        )
        row = looked_up[key] = None if found is None else tuple(found)
    if row is None:
        raise Unauthorized("token of an unknown client")
    active, registered_agency, registered_type, registered_country, is_revoked = row
    if not active or is_revoked:
        raise Unauthorized("token revoked")
    if registered_agency != agency or registered_country != country:
        raise Unauthorized("token no longer matches the registry")
    if agency_type is not None and registered_type != agency_type:
        raise Unauthorized("token no longer matches the registry")
    return str(registered_type)


def why_refused(session: Session, claims: Claims) -> str:
    """Empty if the caller is in good standing (`load_principal`), else why not."""
    try:
        load_principal(session, claims)
    except Unauthorized as exc:
        return exc.detail
    return ""


def principal_of(claims: Claims) -> Principal | None:
    """The principal `load_principal` returns for these claims while the client is in good
    standing, built without the database; None for a token that does not name its agency's
    type. The caller must still have `load_principal` check the standing (api/deps.py)."""
    if claims.agency_type is None:
        return None
    return _principal(claims, claims.agency_type)


def _principal(claims: Claims, agency_type: AgencyType) -> Principal:
    return Principal(
        client_id=claims.client_id,
        agency=claims.agency,
        country=claims.country,
        agency_type=agency_type,
        roles=claims.roles,
        scopes=claims.scopes,
        jti=claims.jti,
        expires_at=claims.expires_at,
    )


def revoke(session: Session, principal: Principal, target: Claims) -> None:
    """Revoke a token: your own, or one of a client you manage (RFC 7009)."""
    if target.client_id != principal.client_id and not can_manage_clients(principal, target.agency):
        raise Forbidden("you may not revoke this token")
    if session.get(RevokedToken, target.jti) is None:
        session.add(
            RevokedToken(
                jti=target.jti,
                client_id=target.client_id,
                expires_at=target.expires_at,
                revoked_at=utcnow(),
            )
        )
        standing_changed(session)


def describe(session: Session, principal: Principal) -> Me:
    client = session.get(Client, principal.client_id)
    agency = session.get(Agency, principal.agency)
    if client is None or agency is None:
        raise Unauthorized("token of an unknown client")
    return Me(
        client_id=client.client_id,
        client_name=client.name,
        agency=get_agency(session, agency.code),
        country=principal.country,
        roles=sorted(principal.roles),
        scopes=sorted(principal.scopes),
        token_expires_at=principal.expires_at,
    )
