"""Countries, agencies and API clients."""

import secrets

from sqlmodel import Session, col, select

from auth.passwords import hash_secret, new_secret
from auth.policy import can_grant_roles, can_manage_clients, is_platform_grant
from auth.principal import Principal
from core.clock import utcnow
from core.errors import Conflict, Forbidden, Hidden, NotFound, Unprocessable
from models.enums import AgencyType, Role
from models.registry import (
    Agency,
    AgencyCreate,
    AgencyRead,
    Client,
    ClientCreate,
    ClientCreated,
    ClientRead,
    Country,
    CountryCreate,
    CountryRead,
)
from services.registry import notices
from services.registry.standing import standing_changed


def list_countries(session: Session) -> list[CountryRead]:
    rows = session.exec(select(Country).order_by(col(Country.code))).all()
    return [CountryRead(code=row.code, name=row.name) for row in rows]


def create_country(session: Session, data: CountryCreate) -> CountryRead:
    if session.get(Country, data.code) is not None:
        raise Conflict(f"country {data.code} already exists")
    session.add(Country(code=data.code, name=data.name))
    return CountryRead(code=data.code, name=data.name)


def list_agencies(session: Session, country: str | None = None) -> list[AgencyRead]:
    query = select(Agency).order_by(col(Agency.code))
    if country is not None:
        query = query.where(Agency.country == country)
    return [_agency_read(row) for row in session.exec(query).all()]


def get_agency(session: Session, code: str) -> AgencyRead:
    return _agency_read(_agency(session, code))


def create_agency(
    session: Session, data: AgencyCreate, principal: Principal | None = None
) -> AgencyRead:
    """Register an agency; one a platform admin registers is announced (registry/notices.py).

    `principal` is None for the operator's own tools (CLI, bootstrap).
    """
    if session.get(Country, data.country) is None:
        raise Unprocessable(
            [{"field": "country", "message": f"no country {data.country} in the registry"}]
        )
    if session.get(Agency, data.code) is not None:
        raise Conflict(f"agency {data.code} already exists")
    agency = Agency(
        code=data.code, name=data.name, country=data.country, type=data.type, created_at=utcnow()
    )
    session.add(agency)
    if principal is not None:
        notices.announce_agency(session, principal, agency)
    return _agency_read(agency)


def list_clients(session: Session, principal: Principal, agency: str) -> list[ClientRead]:
    _managed_agency(session, principal, agency)
    query = select(Client).where(Client.agency == agency).order_by(col(Client.created_at))
    return [_client_read(row) for row in session.exec(query).all()]


def create_client(
    session: Session,
    principal: Principal | None,
    agency: str,
    data: ClientCreate,
    *,
    client_id: str | None = None,
    secret: str | None = None,
) -> ClientCreated:
    """Create a client and return its secret, which is never shown again.

    `principal` is None for the operator's own tools (CLI, bootstrap), which act as the platform.
    """
    row = (
        _agency(session, agency)
        if principal is None
        else _managed_agency(session, principal, agency)
    )
    roles = set(data.roles)
    if Role.PLATFORM_ADMIN in roles and row.type != AgencyType.SECRETARIAT:
        raise Unprocessable(
            [{"field": "roles", "message": "platform_admin belongs to secretariat agencies only"}]
        )
    if principal is not None and not can_grant_roles(principal, AgencyType(row.type), roles):
        raise Forbidden("you may not grant these roles to this agency")
    client_id = client_id or f"{agency.lower()}-{secrets.token_hex(6)}"
    if session.get(Client, client_id) is not None:
        raise Conflict(f"client {client_id} already exists")
    secret = secret or new_secret()
    client = Client(
        client_id=client_id,
        agency=agency,
        name=data.name,
        secret_hash=hash_secret(secret),
        roles=sorted(roles),
        active=True,
        created_at=utcnow(),
    )
    session.add(client)
    if principal is not None and is_platform_grant(principal, agency):
        notices.announce_client(session, principal, row, client)
    return ClientCreated(**_client_read(client).model_dump(), client_secret=secret)


def deactivate_client(session: Session, principal: Principal, client_id: str) -> ClientRead:
    """Deactivate a client: every token it holds stops working at once."""
    client = session.get(Client, client_id)
    if client is None:
        raise NotFound(f"no client {client_id}")
    if not can_manage_clients(principal, client.agency):
        raise Hidden(f"no client {client_id}")
    if client.active:
        client.active = False
        client.deactivated_at = utcnow()
        session.add(client)
        standing_changed(session)
    return _client_read(client)


def reset_secret(session: Session, client_id: str) -> str:
    """Give an existing client a new secret (operator tools only)."""
    client = session.get(Client, client_id)
    if client is None:
        raise NotFound(f"no client {client_id}")
    secret = new_secret()
    client.secret_hash = hash_secret(secret)
    client.active = True
    client.deactivated_at = None
    session.add(client)
    standing_changed(session)
    return secret


def _agency(session: Session, code: str) -> Agency:
    agency = session.get(Agency, code)
    if agency is None:
        raise NotFound(f"no agency {code}")
    return agency


def _managed_agency(session: Session, principal: Principal, code: str) -> Agency:
    agency = _agency(session, code)
    if not can_manage_clients(principal, code):
        raise Forbidden(f"you may not manage the clients of {code}")
    return agency


def _agency_read(row: Agency) -> AgencyRead:
    return AgencyRead(code=row.code, name=row.name, country=row.country, type=AgencyType(row.type))


def _client_read(row: Client) -> ClientRead:
    return ClientRead(
        client_id=row.client_id,
        agency=row.agency,
        name=row.name,
        roles=[Role(role) for role in row.roles],
        active=row.active,
        created_at=row.created_at,
    )
