"""data_protection: retention dates, legal holds and purges

Every stored record and version gets its purpose (the default of its kind), `personal_data`
false, `legal_hold` false and `retain_until`: its last change plus the default period of
that purpose (the settings of the day cannot be known here; a record's next change applies
them). Events keep the record as it was sent, as they always have.

Revision ID: 11021e637573
Revises: 19b9f9e47e20
Create Date: 2026-12-04 04:30:00
"""

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import op

import models.base


revision: str = '11021e637573'
down_revision: str | None = '19b9f9e47e20'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PURPOSE = {'alert': ('border_management', 730), 'distress': ('search_and_rescue', 1825)}
CHUNK = 2000

record = sa.table(
    'record',
    sa.column('seq', sa.Integer),
    sa.column('kind', sa.String),
    sa.column('updated_at', models.base.UTCDateTime()),
    sa.column('retain_until', models.base.UTCDateTime()),
    sa.column('doc', sa.Text),
)
version = sa.table(
    'record_version',
    sa.column('record_id', sa.String),
    sa.column('version', sa.Integer),
    sa.column('kind', sa.String),
    sa.column('created_at', models.base.UTCDateTime()),
    sa.column('doc', sa.Text),
)


def _dated(kind: str, text: str, changed_at: datetime) -> tuple[str, datetime]:
    purpose, days = PURPOSE[kind]
    doc: dict[str, Any] = json.loads(text)
    handling = doc.get('handling')
    if isinstance(handling, dict):  # every record has one; a test's bare row may not
        handling.setdefault('purpose', purpose)
        handling.setdefault('personal_data', False)
    until = changed_at + timedelta(days=days)
    doc.setdefault('retain_until', until.astimezone(UTC).isoformat().replace('+00:00', 'Z'))
    doc.setdefault('legal_hold', False)
    return json.dumps(doc, ensure_ascii=False, separators=(',', ':')), until


def upgrade() -> None:
    # plain ALTER TABLE ADD COLUMN on both databases: a batch would copy the table on SQLite
    op.add_column('record', sa.Column('retain_until', models.base.UTCDateTime(timezone=True), nullable=True))
    op.add_column('record', sa.Column('legal_hold', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column('record', sa.Column('purged_at', models.base.UTCDateTime(timezone=True), nullable=True))
    op.create_index('ix_record_retain_until', 'record', ['retain_until'], unique=False)
    bind = op.get_bind()
    after = 0
    while True:
        rows = bind.execute(
            sa.select(record.c.seq, record.c.kind, record.c.updated_at, record.c.doc)
            .where(record.c.seq > after)
            .order_by(record.c.seq)
            .limit(CHUNK)
        ).all()
        if not rows:
            break
        dated = []
        for seq, kind, updated_at, text in rows:
            doc, until = _dated(kind, text, updated_at)
            dated.append({'b_seq': seq, 'b_doc': doc, 'b_until': until})
        bind.execute(  # one executemany a chunk: a million rows take minutes, not hours
            record.update()
            .where(record.c.seq == sa.bindparam('b_seq'))
            .values(doc=sa.bindparam('b_doc'), retain_until=sa.bindparam('b_until')),
            dated,
        )
        after = rows[-1][0]
    after_key = ('', 0)
    while True:
        versions = bind.execute(
            sa.select(version.c.record_id, version.c.version, version.c.kind, version.c.created_at, version.c.doc)
            .where(sa.tuple_(version.c.record_id, version.c.version) > sa.tuple_(*after_key))
            .order_by(version.c.record_id, version.c.version)
            .limit(CHUNK)
        ).all()
        if not versions:
            break
        dated = []
        for record_id, number, kind, created_at, text in versions:
            doc, _ = _dated(kind, text, created_at)
            dated.append({'b_id': record_id, 'b_version': number, 'b_doc': doc})
        bind.execute(
            version.update()
            .where(version.c.record_id == sa.bindparam('b_id'), version.c.version == sa.bindparam('b_version'))
            .values(doc=sa.bindparam('b_doc')),
            dated,
        )
        after_key = (versions[-1][0], versions[-1][1])


def downgrade() -> None:
    with op.batch_alter_table('record', schema=None) as batch_op:
        batch_op.drop_index('ix_record_retain_until')
        batch_op.drop_column('purged_at')
        batch_op.drop_column('legal_hold')
        batch_op.drop_column('retain_until')
