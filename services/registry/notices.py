"""Telling agencies what a platform admin did to the registry that lets someone read content.

A platform admin reads no content, yet the clients and agencies it makes do. So each is an
event to the agencies whose content it opens: a client made for another agency is announced to
that agency's admins; a new agency to its country's agencies, and a new MRCC (which reads every
actual distress report) to every MRCC too. Who sees them is the one policy's decision, on the
handling columns set here; the request's audit row is flagged as well.
"""

import json
from typing import Any

from sqlmodel import Session, select

from auth.policy import code_list
from auth.principal import Principal
from core.clock import iso
from models.enums import AgencyType
from models.envelope import Distribution, Kind, Status, Tlp
from models.registry import Agency, Client
from services.audit import trail
from services.records.events import emit

GRANT = "platform_admin_grant"  # `detail.flag` of the audit row


def _columns(
    agency: Agency, distribution: Distribution, tlp: Tlp, named: list[str]
) -> dict[str, Any]:
    return {
        "id": agency.code,
        "kind": Kind.REGISTRY.value,
        "status": Status.ACTUAL.value,
        "sender_agency": agency.code,  # the agency it is about
        "sender_country": agency.country,
        "distribution": distribution.value,
        "tlp": tlp.value,
        "recipient_countries": "",
        "recipient_agencies": code_list(named),
        "category": None,
        "severity_rank": 0,
        "lat": 0.0,
        "lon": 0.0,
    }


def _dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def announce_client(session: Session, principal: Principal, agency: Agency, client: Client) -> None:
    """`client.created`, for the admins of the agency the client belongs to alone."""
    data = {
        "client_id": client.client_id,
        "agency": client.agency,
        "name": client.name,
        "roles": client.roles,
        "active": client.active,
        "created_at": iso(client.created_at),
        "created_by_agency": principal.agency,
    }
    columns = _columns(agency, Distribution.AGENCY, Tlp.RED, [])
    emit(session, "client.created", columns, _dumps(data))
    trail.flag(session, GRANT, [agency.country])


def announce_agency(session: Session, principal: Principal, agency: Agency) -> None:
    """`agency.created`, for the admins of its country's agencies, and of every MRCC when it
    is one; flagged in the audit trail when it is an MRCC."""
    mrcc = agency.type == AgencyType.MRCC
    peers: list[str] = []
    if mrcc:
        others = select(Agency.code).where(Agency.type == AgencyType.MRCC.value)
        peers = [code for code in session.exec(others).all() if code != agency.code]
    data = {
        "code": agency.code,
        "name": agency.name,
        "country": agency.country,
        "type": agency.type,
        "created_at": iso(agency.created_at),
        "created_by_agency": principal.agency,
    }
    columns = _columns(agency, Distribution.NATIONAL, Tlp.AMBER, sorted(peers))
    emit(session, "agency.created", columns, _dumps(data))
    if mrcc:
        trail.flag(session, GRANT, [agency.country])
