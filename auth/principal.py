"""Who is calling: what a verified token says, completed from the registry."""

from dataclasses import dataclass
from datetime import datetime

from models.enums import AgencyType, Role, Scope


@dataclass(frozen=True)
class Claims:
    """The verified content of an access token."""

    client_id: str
    agency: str
    country: str
    roles: frozenset[Role]
    scopes: frozenset[Scope]
    jti: str
    issued_at: datetime
    expires_at: datetime
    # what the registry said when the token was issued; tokens from before it was a claim
    # have none, and their callers' agencies are looked up before the request goes on
    agency_type: AgencyType | None = None


@dataclass(frozen=True)
class Principal:
    client_id: str
    agency: str
    country: str
    agency_type: AgencyType
    roles: frozenset[Role]
    scopes: frozenset[Scope]
    jti: str
    expires_at: datetime

    def has_role(self, role: Role) -> bool:
        return role in self.roles

    def has_scope(self, scope: Scope) -> bool:
        return scope in self.scopes
