"""version_handling: each version keeps the handling it was sent under

Revision ID: 5e78b2da9840
Revises: 9562c0c9e3ff
Create Date: 2026-12-03 21:26:58.458214

The access policy judges each version by its own handling (history obeys the handling each
version had), so `record_version` gains the columns the policy reads, as `record` and `event`
have them. Existing rows are filled from each version's stored JSON.
"""

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op


revision: str = '5e78b2da9840'
down_revision: str | None = '9562c0c9e3ff'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = {
    'kind': 10,
    'status': 10,
    'sender_agency': 32,
    'sender_country': 2,
    'distribution': 10,
    'tlp': 12,
    'recipient_countries': 400,
    'recipient_agencies': 4000,
}
BATCH = 1000
VERSION = sa.table(
    'record_version',
    sa.column('record_id'),
    sa.column('version'),
    sa.column('doc'),
    *(sa.column(name) for name in COLUMNS),
)


def upgrade() -> None:
    with op.batch_alter_table('record_version', schema=None) as batch_op:
        for name, length in COLUMNS.items():
            batch_op.add_column(
                sa.Column(name, sqlmodel.sql.sqltypes.AutoString(length=length), nullable=True)
            )
    _backfill(op.get_bind())
    with op.batch_alter_table('record_version', schema=None) as batch_op:
        for name, length in COLUMNS.items():
            batch_op.alter_column(
                name,
                existing_type=sqlmodel.sql.sqltypes.AutoString(length=length),
                nullable=False,
            )


def downgrade() -> None:
    with op.batch_alter_table('record_version', schema=None) as batch_op:
        for name in reversed(COLUMNS):
            batch_op.drop_column(name)


def _code_list(codes: list[str]) -> str:
    """As auth.policy.code_list stores them: `,A,B,` (copied: migrations do not import app code)."""
    return ',' + ','.join(codes) + ',' if codes else ''


def _handling(doc_text: str) -> dict[str, Any]:
    doc = json.loads(doc_text)
    handling = doc['handling']
    return {
        'kind': doc['kind'],
        'status': doc['status'],
        'sender_agency': doc['sender_agency'],
        'sender_country': doc['sender_country'],
        'distribution': handling['distribution'],
        'tlp': handling['tlp'],
        'recipient_countries': _code_list(handling['recipient_countries']),
        'recipient_agencies': _code_list(handling['recipient_agencies']),
    }


def _backfill(connection: sa.Connection) -> None:
    """Walk the versions in primary-key order, a batch at a time, filling each from its doc."""
    key = sa.tuple_(VERSION.c.record_id, VERSION.c.version)
    fill = (
        VERSION.update()
        .where(
            VERSION.c.record_id == sa.bindparam('b_record_id'),
            VERSION.c.version == sa.bindparam('b_version'),
        )
        .values({name: sa.bindparam(name) for name in COLUMNS})
    )
    after: tuple[str, int] | None = None
    while True:
        query = sa.select(VERSION.c.record_id, VERSION.c.version, VERSION.c.doc)
        if after is not None:
            query = query.where(key > sa.tuple_(sa.literal(after[0]), sa.literal(after[1])))
        rows = connection.execute(
            query.order_by(VERSION.c.record_id, VERSION.c.version).limit(BATCH)
        ).all()
        if not rows:
            return
        connection.execute(
            fill,
            [
                {'b_record_id': record_id, 'b_version': version, **_handling(doc)}
                for record_id, version, doc in rows
            ],
        )
        after = (rows[-1][0], rows[-1][1])
