"""A record's versions, each as its reader may see it: pages for `/versions`, all for CAP."""

from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select

from auth.policy import readable
from auth.principal import Principal
from models.records import RecordVersion
from services.records.kinds import KindSpec
from services.records.reading import decode_cursor, encode_cursor, load

# `/versions` pages by version number, not by insertion sequence: its cursors carry their own
# tag, so a cursor of another list given there (or one of its given to another) is a 422
VERSION_CURSOR = "v"


def page(
    session: Session,
    principal: Principal,
    spec: KindSpec,
    record_id: str,
    limit: int,
    cursor: str | None,
) -> tuple[list[str], str | None]:
    """A page of the versions the caller may read by each one's own handling, oldest first,
    and the cursor of the next page (`None` after the last).

    A version sent under narrower handling than today's is left out (its number shows the
    gap) and the page filled with later ones; the record itself is a 404 when its current
    version is hidden.
    """
    load(session, principal, spec, record_id)
    query = _readable_versions(principal, record_id).limit(limit + 1)
    if cursor is not None:
        query = query.where(col(RecordVersion.version) > decode_cursor(cursor, VERSION_CURSOR))
    rows = session.exec(query).all()
    shown = rows[:limit]
    next_cursor = encode_cursor(shown[-1][0], VERSION_CURSOR) if len(rows) > limit else None
    return [doc for _version, doc in shown], next_cursor


def all_versions(
    session: Session, principal: Principal, spec: KindSpec, record_id: str
) -> list[str]:
    """Every version the caller may read, oldest first, in one list (CAP `references`)."""
    load(session, principal, spec, record_id)
    return [doc for _version, doc in session.exec(_readable_versions(principal, record_id))]


def _readable_versions(principal: Principal, record_id: str) -> Select[int, str]:
    return (
        select(RecordVersion.version, RecordVersion.doc)
        .where(col(RecordVersion.record_id) == record_id, readable(principal, RecordVersion))
        .order_by(col(RecordVersion.version))
    )
