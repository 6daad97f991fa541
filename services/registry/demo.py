"""A demo network of Bali Process members, for trying the service out."""

from collections.abc import Callable
from dataclasses import dataclass

from sqlmodel import Session, select

from auth.principal import Principal
from auth.scopes import ROLE_SCOPES
from core.clock import utcnow
from models.alerts import EXAMPLE as ALERT_EXAMPLE
from models.alerts import AlertCreate
from models.distress import EXAMPLE as DISTRESS_EXAMPLE
from models.distress import DistressCreate
from models.enums import AgencyType, Role
from models.records import Record
from models.registry import Agency, AgencyCreate, Client, ClientCreate, Country, CountryCreate
from services.records.kinds import ALERTS, DISTRESS
from services.records.publishing import publish
from services.registry.bootstrap import SECRETARIAT_CODE, ensure_secretariat
from services.registry.members import create_agency, create_client, create_country, reset_secret

COUNTRIES = {
    "BD": "Bangladesh",
    "ID": "Indonesia",
    "MY": "Malaysia",
    "LK": "Sri Lanka",
    "TH": "Thailand",
    "VN": "Viet Nam",
}

T = AgencyType
AGENCIES = [
    ("BD-CG", "Bangladesh Coast Guard", "BD", T.COAST_GUARD),
    ("BD-POLICE", "Bangladesh Police", "BD", T.POLICE),
    ("BD-DIP", "Department of Immigration and Passports", "BD", T.IMMIGRATION),
    ("BD-MRCC", "MRCC Chattogram", "BD", T.MRCC),
    ("ID-BAKAMLA", "Indonesian Maritime Security Agency (Bakamla)", "ID", T.COAST_GUARD),
    ("ID-POLAIRUD", "Indonesian National Police, Water and Air Police", "ID", T.MARINE_POLICE),
    ("ID-IMIGRASI", "Directorate General of Immigration", "ID", T.IMMIGRATION),
    ("ID-BASARNAS", "BASARNAS / MRCC Jakarta", "ID", T.MRCC),
    ("MY-MMEA", "Malaysian Maritime Enforcement Agency", "MY", T.COAST_GUARD),
    ("MY-PDRM", "Royal Malaysia Police", "MY", T.POLICE),
    ("MY-JIM", "Immigration Department of Malaysia", "MY", T.IMMIGRATION),
    ("MY-MRCC", "MRCC Putrajaya", "MY", T.MRCC),
    ("LK-CG", "Sri Lanka Coast Guard", "LK", T.COAST_GUARD),
    ("LK-POLICE", "Sri Lanka Police", "LK", T.POLICE),
    ("LK-DIE", "Department of Immigration and Emigration", "LK", T.IMMIGRATION),
    ("LK-MRCC", "MRCC Colombo", "LK", T.MRCC),
    ("TH-MECC", "Thai Maritime Enforcement Command Center", "TH", T.COAST_GUARD),
    ("TH-MARPOL", "Royal Thai Marine Police", "TH", T.MARINE_POLICE),
    ("TH-IMM", "Immigration Bureau", "TH", T.IMMIGRATION),
    ("TH-MRCC", "Thailand MRCC", "TH", T.MRCC),
    ("VN-CG", "Viet Nam Coast Guard", "VN", T.COAST_GUARD),
    ("VN-POLICE", "Ministry of Public Security", "VN", T.POLICE),
    ("VN-IMM", "Immigration Department", "VN", T.IMMIGRATION),
    ("VN-MRCC", "Viet Nam MRCC", "VN", T.MRCC),
]

R = Role
CLIENTS = [
    ("demo-th-mecc-viewer", "TH-MECC", "MECC situation display", [R.VIEWER]),
    ("demo-th-mecc-duty", "TH-MECC", "MECC watch floor", [R.DUTY_OFFICER]),
    ("demo-th-mecc-admin", "TH-MECC", "MECC administrator", [R.AGENCY_ADMIN]),
    ("demo-bd-cg-duty", "BD-CG", "Coast Guard operations room", [R.DUTY_OFFICER]),
    ("demo-my-mmea-duty", "MY-MMEA", "MMEA operations centre", [R.DUTY_OFFICER]),
    ("demo-id-basarnas-duty", "ID-BASARNAS", "BASARNAS rescue coordinator", [R.DUTY_OFFICER]),
    ("demo-th-auditor", "TH-MECC", "Thai oversight auditor", [R.AUDITOR]),
    ("demo-platform-admin", SECRETARIAT_CODE, "Secretariat platform admin", [R.PLATFORM_ADMIN]),
]


@dataclass(frozen=True)
class DemoCredential:
    client_id: str
    client_secret: str
    agency: str
    roles: list[str]


def seed(session: Session, on_client: Callable[[], None] | None = None) -> list[DemoCredential]:
    """Create what is missing of the demo network and (re)issue the demo clients' secrets.

    Secrets are stored hashed, so a re-run gives every demo client a fresh one to print.
    Hashing them is the slow part: `on_client` hears of each one done.
    """
    ensure_secretariat(session)
    for code, name in COUNTRIES.items():
        if session.get(Country, code) is None:
            create_country(session, CountryCreate(code=code, name=name))
    for code, name, country, kind in AGENCIES:
        if session.get(Agency, code) is None:
            create_agency(session, AgencyCreate(code=code, name=name, country=country, type=kind))
    session.flush()
    credentials = []
    for client_id, agency, name, roles in CLIENTS:
        if session.get(Client, client_id) is None:
            data = ClientCreate(name=name, roles=roles)
            secret = create_client(session, None, agency, data, client_id=client_id).client_secret
        else:
            secret = reset_secret(session, client_id)
        credentials.append(DemoCredential(client_id, secret, agency, [str(r) for r in roles]))
        if on_client is not None:
            on_client()
    if session.exec(select(Record.id).limit(1)).first() is None:
        _seed_records(session)
    return credentials


def _sender(session: Session, code: str) -> Principal:
    agency = session.get(Agency, code)
    assert agency is not None
    return Principal(
        client_id="demo-seed",
        agency=code,
        country=agency.country,
        agency_type=AgencyType(agency.type),
        roles=frozenset({Role.DUTY_OFFICER}),
        scopes=ROLE_SCOPES[Role.DUTY_OFFICER],
        jti="demo",
        expires_at=utcnow(),
    )


def _seed_records(session: Session) -> None:
    """A few alerts and a distress case, so the lists, feed and console are not empty."""
    alerts = [
        ("BD-CG", ALERT_EXAMPLE),
        (
            "TH-MECC",
            {
                **ALERT_EXAMPLE,
                "category": "suspicious_vessel",
                "severity": "moderate",
                "headline": "Unlit trawler loitering off Ko Surin, possible transfer point",
                "description": "Radar contact without AIS, slow southward drift since 02:00.",
                "location": {"lat": 9.42, "lon": 97.86, "accuracy_m": 1500},
                "place_name": "Ko Surin",
                "sea_area": "Andaman Sea",
                "persons": None,
                "case_id": None,
                "handling": {
                    "distribution": "countries",
                    "recipient_countries": ["MY", "ID"],
                    "tlp": "amber",
                    "ack_required": True,
                },
            },
        ),
        (
            "MY-MMEA",
            {
                **ALERT_EXAMPLE,
                "category": "landing",
                "severity": "severe",
                "urgency": "past",
                "certainty": "observed",
                "headline": "About 70 persons landed at Pantai Cenang, Langkawi; boat abandoned",
                "description": "Police holding 68 adults and 5 children; boat beached at dawn.",
                "location": {"lat": 6.29, "lon": 99.73, "accuracy_m": 200},
                "place_name": "Pantai Cenang, Langkawi",
                "sea_area": "Andaman Sea",
                "persons": {"estimate": 73},
                "case_id": "MMEA-KDH-2026-311",
                "handling": {"distribution": "network", "tlp": "green"},
            },
        ),
    ]
    for agency, body in alerts:
        publish(session, _sender(session, agency), ALERTS, AlertCreate.model_validate(body))
    publish(
        session,
        _sender(session, "ID-BASARNAS"),
        DISTRESS,
        DistressCreate.model_validate(DISTRESS_EXAMPLE),
    )
