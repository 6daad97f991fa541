"""A demo network of Bali Process members, for trying the service out."""

from dataclasses import dataclass

from sqlmodel import Session

from models.enums import AgencyType, Role
from models.registry import Agency, AgencyCreate, Client, ClientCreate, Country, CountryCreate
from services.bootstrap import SECRETARIAT_CODE, ensure_secretariat
from services.registry import create_agency, create_client, create_country, reset_secret

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


def seed(session: Session) -> list[DemoCredential]:
    """Create what is missing of the demo network and (re)issue the demo clients' secrets.

    Secrets are stored hashed, so a re-run gives every demo client a fresh one to print.
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
    return credentials
