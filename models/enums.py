"""The vocabulary shared by tables, schemas and the access policy."""

from enum import StrEnum


class AgencyType(StrEnum):
    POLICE = "police"
    COAST_GUARD = "coast_guard"
    MARINE_POLICE = "marine_police"
    IMMIGRATION = "immigration"
    NAVY = "navy"
    MRCC = "mrcc"
    SECRETARIAT = "secretariat"
    OTHER = "other"


class Role(StrEnum):
    VIEWER = "viewer"
    DUTY_OFFICER = "duty_officer"
    AGENCY_ADMIN = "agency_admin"
    AUDITOR = "auditor"
    PLATFORM_ADMIN = "platform_admin"


class Scope(StrEnum):
    ALERTS_READ = "alerts:read"
    ALERTS_WRITE = "alerts:write"
    DISTRESS_READ = "distress:read"
    DISTRESS_WRITE = "distress:write"
    ACKS_WRITE = "acks:write"
    SIGHTINGS_WRITE = "sightings:write"
    FEED_READ = "feed:read"
    SUBSCRIPTIONS_MANAGE = "subscriptions:manage"
    CLIENTS_MANAGE = "clients:manage"
    REGISTRY_MANAGE = "registry:manage"
    AUDIT_READ = "audit:read"
