"""Roles map to fixed sets of scopes (DESIGN.md, "Roles → scopes")."""

from collections.abc import Iterable

from models.enums import Role, Scope

_VIEWER = {Scope.ALERTS_READ, Scope.DISTRESS_READ, Scope.FEED_READ}
_DUTY_OFFICER = _VIEWER | {
    Scope.ALERTS_WRITE,
    Scope.DISTRESS_WRITE,
    Scope.ACKS_WRITE,
    Scope.SIGHTINGS_WRITE,
}

ROLE_SCOPES: dict[Role, frozenset[Scope]] = {
    Role.VIEWER: frozenset(_VIEWER),
    Role.DUTY_OFFICER: frozenset(_DUTY_OFFICER),
    Role.AGENCY_ADMIN: frozenset(
        _DUTY_OFFICER | {Scope.SUBSCRIPTIONS_MANAGE, Scope.CLIENTS_MANAGE}
    ),
    Role.AUDITOR: frozenset({Scope.AUDIT_READ}),
    Role.PLATFORM_ADMIN: frozenset({Scope.REGISTRY_MANAGE, Scope.CLIENTS_MANAGE, Scope.AUDIT_READ}),
}

SCOPE_DESCRIPTIONS: dict[str, str] = {
    Scope.ALERTS_READ: "Read incident alerts visible to your agency",
    Scope.ALERTS_WRITE: "Publish, update and cancel your agency's incident alerts",
    Scope.DISTRESS_READ: "Read vessel-in-distress reports visible to your agency",
    Scope.DISTRESS_WRITE: "Publish, update and close your agency's distress reports",
    Scope.ACKS_WRITE: "Acknowledge alerts and distress reports",
    Scope.SIGHTINGS_WRITE: "Report sightings of the vessels of records you may read",
    Scope.FEED_READ: "Read the change feed",
    Scope.SUBSCRIPTIONS_MANAGE: "Manage your agency's webhook subscriptions",
    Scope.CLIENTS_MANAGE: "Manage API clients (your agency's; all for platform admins)",
    Scope.REGISTRY_MANAGE: "Manage countries and agencies",
    Scope.AUDIT_READ: "Read the audit trail",
}


def scopes_of(roles: Iterable[Role]) -> frozenset[Scope]:
    granted: set[Scope] = set()
    for role in roles:
        granted |= ROLE_SCOPES[role]
    return frozenset(granted)
