"""The one place that decides who may do what. No FastAPI, no SQL beyond the policy's twins."""

from auth.principal import Principal
from auth.scopes import scopes_of
from models.enums import AgencyType, Role, Scope


def can_manage_clients(principal: Principal, agency: str) -> bool:
    """Platform admins manage every agency's clients; agency admins only their own."""
    if not principal.has_scope(Scope.CLIENTS_MANAGE):
        return False
    return principal.has_role(Role.PLATFORM_ADMIN) or principal.agency == agency


def can_grant_roles(principal: Principal, agency_type: AgencyType, roles: set[Role]) -> bool:
    """Nobody hands out what they do not hold; platform admins exist only in the secretariat."""
    if Role.PLATFORM_ADMIN in roles and agency_type != AgencyType.SECRETARIAT:
        return False
    if principal.has_role(Role.PLATFORM_ADMIN):
        return True
    return Role.AUDITOR not in roles and scopes_of(roles) <= principal.scopes
