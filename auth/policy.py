"""The one place that decides who may see and do what.

`can_read` decides for one record in Python; `readable` is its SQL twin for lists and feeds.
Every read path, the acknowledgement lists and the webhook fan-out go through these two, and a
property-based test keeps them in agreement. Records, their versions and their events each
carry the handling they were sent under, and each is judged by its own.
"""

from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from sqlalchemy import ColumnElement, and_, false, or_, true
from sqlmodel import col

from auth.principal import Principal
from auth.scopes import scopes_of
from models.audit import AuditEvent
from models.enums import AgencyType, Role, Scope
from models.envelope import Distribution, Kind, Status, Tlp
from models.events import Event
from models.records import Record, RecordVersion

READ_SCOPE = {
    Kind.ALERT: Scope.ALERTS_READ,
    Kind.DISTRESS: Scope.DISTRESS_READ,
    Kind.SUBSCRIPTION: Scope.SUBSCRIPTIONS_MANAGE,
    Kind.REGISTRY: Scope.CLIENTS_MANAGE,  # read by the admins of the agencies it names
}
WRITE_SCOPE = {Kind.ALERT: Scope.ALERTS_WRITE, Kind.DISTRESS: Scope.DISTRESS_WRITE}


@dataclass(frozen=True)
class Reader:
    """An agency as a reader: what visibility depends on, whoever its client is."""

    agency: str
    country: str
    agency_type: AgencyType


class Readable(Protocol):
    """What the policy reads of a record, a version or an event: `POLICY_COLUMNS`."""

    kind: str
    status: str
    sender_agency: str
    sender_country: str
    distribution: str
    tlp: str
    recipient_countries: str  # ",MY,TH,"
    recipient_agencies: str  # ",MY-MMEA,"


POLICY_COLUMNS = (
    "kind",
    "status",
    "sender_agency",
    "sender_country",
    "distribution",
    "tlp",
    "recipient_countries",
    "recipient_agencies",
)
# A stored `distribution` no sender can choose: an event addressed to its sender agency and
# `recipient_agencies` only (an overdue-acknowledgement notice), with no safety-of-life floor.
ADDRESSED = "addressed"
# The tables the SQL twin filters: each row holds POLICY_COLUMNS as of its own version.
Source = type[Record] | type[RecordVersion] | type[Event]


def code_list(codes: list[str]) -> str:
    """Store a list of codes the way the policy reads it: `,A,B,`."""
    return "," + ",".join(codes) + "," if codes else ""


def agency_reader(code: str, country: str, agency_type: str) -> Reader:
    """An agency as a reader, from its registry row (whoever its client would be)."""
    return Reader(code, country, AgencyType(agency_type))


def reader_of(principal: Principal) -> Reader:
    return Reader(principal.agency, principal.country, principal.agency_type)


def can_agency_read(reader: Reader, record: Readable) -> bool:
    """Whether an agency may read a record, by the sender's handling and the SOLAS floor."""
    if record.sender_agency == reader.agency:
        return True
    if f",{reader.agency}," in record.recipient_agencies:
        return True
    if (
        record.kind == Kind.DISTRESS
        and record.status == Status.ACTUAL
        and reader.agency_type == AgencyType.MRCC
        and record.distribution != ADDRESSED
    ):
        return True  # safety of life: every MRCC sees every actual distress report
    if record.tlp == Tlp.RED:
        return False
    if record.distribution == Distribution.NETWORK:
        return True
    if record.distribution == Distribution.NATIONAL:
        return reader.country == record.sender_country
    if record.distribution == Distribution.COUNTRIES:
        return (
            reader.country == record.sender_country
            or f",{reader.country}," in record.recipient_countries
        )
    return False


def can_read(principal: Principal, record: Readable) -> bool:
    return READ_SCOPE[Kind(record.kind)] in principal.scopes and can_agency_read(
        reader_of(principal), record
    )


def readable(principal: Principal, source: Source = Record) -> ColumnElement[bool]:
    """The SQL twin of `can_read`: a WHERE clause over `record` (or a version or an event)."""
    kinds = tuple(kind.value for kind, scope in READ_SCOPE.items() if scope in principal.scopes)
    return _readable_by(reader_of(principal), kinds, source)


@lru_cache(maxsize=1024)
def _readable_by(reader: Reader, kinds: tuple[str, ...], source: Source) -> ColumnElement[bool]:
    """Built once per reader (clauses are immutable), so lists can cache their statements."""
    if not kinds:
        return false()
    grants: list[ColumnElement[bool]] = [
        col(source.sender_agency) == reader.agency,
        col(source.recipient_agencies).contains(f",{reader.agency},"),
    ]
    if reader.agency_type == AgencyType.MRCC:
        grants.append(
            and_(
                col(source.kind) == Kind.DISTRESS.value,
                col(source.status) == Status.ACTUAL.value,
                col(source.distribution) != ADDRESSED,
            )
        )
    by_distribution = or_(
        col(source.distribution) == Distribution.NETWORK.value,
        and_(
            or_(
                col(source.distribution) == Distribution.NATIONAL.value,
                col(source.distribution) == Distribution.COUNTRIES.value,
            ),
            col(source.sender_country) == reader.country,
        ),
        and_(
            col(source.distribution) == Distribution.COUNTRIES.value,
            col(source.recipient_countries).contains(f",{reader.country},"),
        ),
    )
    grants.append(and_(col(source.tlp) != Tlp.RED.value, by_distribution))
    # equalities rather than IN: an IN list is expanded again on every execution
    return and_(or_(*(col(source.kind) == kind for kind in kinds)), or_(*grants))


class Modifiable(Readable, Protocol):
    coordinator: str | None  # a distress report's coordinating RCC


def can_modify(principal: Principal, record: Modifiable) -> bool:
    """The sender agency changes a record, and so does a distress report's coordinating RCC,
    with the write scope of its kind."""
    changer = record.sender_agency == principal.agency or (
        record.kind == Kind.DISTRESS and record.coordinator == principal.agency
    )
    return changer and WRITE_SCOPE[Kind(record.kind)] in principal.scopes


def can_acknowledge(principal: Principal, record: Readable) -> bool:
    return (
        Scope.ACKS_WRITE in principal.scopes
        and record.sender_agency != principal.agency
        and can_read(principal, record)
    )


def can_manage_clients(principal: Principal, agency: str) -> bool:
    """Platform admins manage every agency's clients; agency admins only their own."""
    if not principal.has_scope(Scope.CLIENTS_MANAGE):
        return False
    return principal.has_role(Role.PLATFORM_ADMIN) or principal.agency == agency


def can_see_client_id(principal: Principal, agency: str, country: str | None) -> bool:
    """A client id shows to its own agency, its country's auditors and platform admins; anyone
    else sees the agency's code instead (an id is what the token endpoint is attacked with)."""
    if principal.agency == agency or principal.has_role(Role.PLATFORM_ADMIN):
        return True
    return principal.has_scope(Scope.AUDIT_READ) and country == principal.country


def is_platform_grant(principal: Principal, agency: str) -> bool:
    """A client made for an agency by someone outside it: a platform admin granting content
    access it does not hold itself. Announced to that agency and flagged in the audit trail.
    Only the admin's own agency's clients are its own business: another agency of type
    `secretariat` has a country, and its clients read that country's national records."""
    return principal.agency != agency


def can_grant_roles(principal: Principal, agency_type: AgencyType, roles: set[Role]) -> bool:
    """Nobody hands out what they do not hold; platform admins exist only in the secretariat."""
    if Role.PLATFORM_ADMIN in roles and agency_type != AgencyType.SECRETARIAT:
        return False
    if principal.has_role(Role.PLATFORM_ADMIN):
        return True
    return Role.AUDITOR not in roles and scopes_of(roles) <= principal.scopes


class AuditVisible(Protocol):
    actor_country: str | None
    object_countries: str  # ",TH,"


def can_read_audit(principal: Principal, event: AuditVisible) -> bool:
    """Platform admins read the whole trail; auditors what concerns their country: the
    actions of its agencies and every access to its agencies' records."""
    if Scope.AUDIT_READ not in principal.scopes:
        return False
    if principal.has_role(Role.PLATFORM_ADMIN):
        return True
    return (
        event.actor_country == principal.country
        or f",{principal.country}," in event.object_countries
    )


def can_see_audited_record(
    principal: Principal, actor_country: str | None, record_country: str | None
) -> bool:
    """Which records a list's audit row names an auditor is shown: its country's records,
    and any record its country's agencies were shown. Platform admins see every one."""
    if principal.has_role(Role.PLATFORM_ADMIN):
        return True
    return principal.country in (actor_country, record_country)


def readable_audit(principal: Principal) -> ColumnElement[bool]:
    """The SQL twin of `can_read_audit`."""
    if Scope.AUDIT_READ not in principal.scopes:
        return false()
    if principal.has_role(Role.PLATFORM_ADMIN):
        return true()
    return or_(
        col(AuditEvent.actor_country) == principal.country,
        col(AuditEvent.object_countries).contains(f",{principal.country},"),
    )
