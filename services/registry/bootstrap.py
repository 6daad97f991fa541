"""The platform's own starting point: the secretariat and its first administrator."""

import logging

from sqlmodel import Session

from auth.passwords import hash_secret, verify_secret
from core.clock import utcnow
from models.enums import AgencyType, Role
from models.registry import Agency, Client, ClientCreate, Country
from services.audit import trail
from services.registry.members import create_client

SECRETARIAT_CODE = "RSO"
SECRETARIAT_NAME = "Bali Process Regional Support Office"
SECRETARIAT_COUNTRY = ("TH", "Thailand")  # the RSO sits in Bangkok
log = logging.getLogger(__name__)


def ensure_secretariat(session: Session) -> None:
    code, name = SECRETARIAT_COUNTRY
    if session.get(Country, code) is None:
        session.add(Country(code=code, name=name))
    if session.get(Agency, SECRETARIAT_CODE) is None:
        session.add(
            Agency(
                code=SECRETARIAT_CODE,
                name=SECRETARIAT_NAME,
                country=code,
                type=AgencyType.SECRETARIAT,
                created_at=utcnow(),
            )
        )
    session.flush()


def ensure_admin(session: Session, client_id: str, secret: str) -> str | None:
    """Make sure the platform-admin client exists with this secret, and audit what changed
    (actor `bootstrap`, never the secret); return it: "created", "secret replaced" or None.

    A bootstrap admin that was deactivated stays deactivated: restarting never undoes that.
    """
    ensure_secretariat(session)
    client = session.get(Client, client_id)
    if client is None:
        data = ClientCreate(name="Bootstrap platform admin", roles=[Role.PLATFORM_ADMIN])
        create_client(session, None, SECRETARIAT_CODE, data, client_id=client_id, secret=secret)
        return _audited(session, client_id, "created")
    if client.agency != SECRETARIAT_CODE or Role.PLATFORM_ADMIN not in client.roles:
        raise ValueError(f"client {client_id} exists but is not a platform admin")
    if not client.active:
        log.warning("bootstrap admin %s is deactivated; leaving it so", client_id)
        return None
    if verify_secret(client.secret_hash, secret):
        return None
    client.secret_hash = hash_secret(secret)
    session.add(client)
    return _audited(session, client_id, "secret replaced")


def _audited(session: Session, client_id: str, what: str) -> str:
    """A credential that holds `registry:manage` changed at start-up: an operator's act."""
    entry = trail.Entry(
        action=f"bootstrap admin {what}",
        outcome="success",
        status_code=0,
        actor_client="bootstrap",
        object_type="clients",
        object_id=client_id,
        object_countries=[SECRETARIAT_COUNTRY[0]],
    )
    trail.append(session, entry)
    return what
