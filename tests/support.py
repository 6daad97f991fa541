"""Test helpers: a small network of agencies and clients, and tokens for them."""

import asyncio
import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlmodel import Session

from auth.principal import Principal
from auth.scopes import ROLE_SCOPES
from core.db import Database
from models.alerts import EXAMPLE as ALERT_EXAMPLE
from models.distress import EXAMPLE as DISTRESS_EXAMPLE
from models.enums import AgencyType, Role
from models.registry import AgencyCreate, ClientCreate, CountryCreate
from services.registry import members
from services.registry.bootstrap import SECRETARIAT_CODE, ensure_secretariat

AGENCIES = [
    ("TH-MECC", "TH", AgencyType.COAST_GUARD),
    ("TH-MRCC", "TH", AgencyType.MRCC),
    ("MY-MMEA", "MY", AgencyType.COAST_GUARD),
    ("MY-MRCC", "MY", AgencyType.MRCC),
    ("BD-CG", "BD", AgencyType.COAST_GUARD),
    ("ID-BASARNAS", "ID", AgencyType.MRCC),
]


def seed_registry(db: Database) -> None:
    """The test network's countries and agencies (and the secretariat)."""

    def build(session: Session) -> None:
        ensure_secretariat(session)
        for code, name in (("MY", "Malaysia"), ("BD", "Bangladesh"), ("ID", "Indonesia")):
            members.create_country(session, CountryCreate(code=code, name=name))
        for code, country, kind in AGENCIES:
            data = AgencyCreate(code=code, name=f"{code} agency", country=country, type=kind)
            members.create_agency(session, data)

    db.run_write(build)


@dataclass
class Credential:
    client_id: str
    secret: str
    agency: str
    roles: list[Role]


@dataclass
class Network:
    db: Database
    http: httpx.AsyncClient
    credentials: dict[str, Credential] = field(default_factory=dict)
    _tokens: dict[str, str] = field(default_factory=dict)

    @classmethod
    def seed(cls, db: Database, http: httpx.AsyncClient) -> "Network":
        seed_registry(db)
        return cls(db=db, http=http)

    def add_agency(self, code: str, country: str, kind: AgencyType) -> None:
        data = AgencyCreate(code=code, name=f"{code} agency", country=country, type=kind)
        self.db.run_write(lambda session: members.create_agency(session, data))

    def add_client(self, name: str, agency: str, *roles: Role) -> Credential:
        data = ClientCreate(name=name, roles=list(roles))
        created = self.db.run_write(
            lambda session: members.create_client(session, None, agency, data)
        )
        credential = Credential(created.client_id, created.client_secret, agency, list(roles))
        self.credentials[name] = credential
        return credential

    def role(self, role: Role, agency: str = "TH-MECC") -> Credential:
        """A client of `agency` holding exactly `role` (created once per test)."""
        if role is Role.PLATFORM_ADMIN:
            agency = SECRETARIAT_CODE
        name = f"{agency}:{role}"
        return self.credentials.get(name) or self.add_client(name, agency, role)

    def principal(self, role: Role, agency: str, country: str) -> Principal:
        """The caller a token of `role` at `agency` (a coast guard of `country`) stands for, to
        call the service layer directly, valid an hour."""
        return Principal(
            client_id=self.role(role, agency).client_id,
            agency=agency,
            country=country,
            agency_type=AgencyType.COAST_GUARD,
            roles=frozenset([role]),
            scopes=ROLE_SCOPES[role],
            jti="x",
            expires_at=datetime.now(UTC) + timedelta(hours=1),
        )

    async def token(self, credential: Credential, scope: str | None = None) -> str:
        key = f"{credential.client_id}|{scope}"
        if key not in self._tokens:
            form = {
                "grant_type": "client_credentials",
                "client_id": credential.client_id,
                "client_secret": credential.secret,
            }
            if scope is not None:
                form["scope"] = scope
            response = await self.http.post("/v1/auth/token", data=form)
            assert response.status_code == 200, response.text
            self._tokens[key] = response.json()["access_token"]
        return self._tokens[key]

    async def headers(self, role: Role, agency: str = "TH-MECC") -> dict[str, str]:
        return {"Authorization": f"Bearer {await self.token(self.role(role, agency))}"}


def alert_body(**changes: object) -> dict[str, object]:
    """The documented example alert, with `changes` merged in at the top level."""
    body = copy.deepcopy(ALERT_EXAMPLE)
    body.update(changes)
    return body


def distress_body(**changes: object) -> dict[str, object]:
    body = copy.deepcopy(DISTRESS_EXAMPLE)
    body["coordinating_rcc"] = "MY-MRCC"
    body.update(changes)
    return body


def handling(distribution: str = "network", **changes: object) -> dict[str, object]:
    return {"distribution": distribution, "tlp": "amber", **changes}


async def until(
    ready: Callable[[], bool], what: str, timeout: float = 20, every: float = 0.02
) -> None:
    """Wait until `ready()`, looking every `every` seconds; fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(every)
