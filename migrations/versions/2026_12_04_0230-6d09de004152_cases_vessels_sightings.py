"""cases_vessels_sightings: sightings, each record's vessel links, and an index per case

Revision ID: 6d09de004152
Revises: 3c9d7a51b2e4
Create Date: 2026-12-04 02:04:14.416718

`vessel_link` holds the MMSI, IMO and call signs each record's current version names
(models/vessels.py); existing records are linked from their stored JSON.
"""

import json
import re
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import models.base


revision: str = '6d09de004152'
down_revision: str | None = '3c9d7a51b2e4'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('sighting',
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('record_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('agency', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('client_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('observed_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('doc', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['agency'], ['agency.code'], name=op.f('fk_sighting_agency_agency')),
    sa.ForeignKeyConstraint(['record_id'], ['record.id'], name=op.f('fk_sighting_record_id_record')),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_sighting')),
    sa.UniqueConstraint('id', name=op.f('uq_sighting_id'))
    )
    with op.batch_alter_table('sighting', schema=None) as batch_op:
        batch_op.create_index('ix_sighting_record', ['record_id', 'seq'], unique=False)

    op.create_table('vessel_link',
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('record_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.ForeignKeyConstraint(['record_id'], ['record.id'], name=op.f('fk_vessel_link_record_id_record')),
    sa.PrimaryKeyConstraint('key', 'record_id', name=op.f('pk_vessel_link'))
    )
    with op.batch_alter_table('vessel_link', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vessel_link_record_id'), ['record_id'], unique=False)

    with op.batch_alter_table('record', schema=None) as batch_op:
        batch_op.create_index('ix_record_case', ['case_id', 'seq'], unique=False)

    _link_existing(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table('record', schema=None) as batch_op:
        batch_op.drop_index('ix_record_case')

    with op.batch_alter_table('vessel_link', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vessel_link_record_id'))

    op.drop_table('vessel_link')
    with op.batch_alter_table('sighting', schema=None) as batch_op:
        batch_op.drop_index('ix_sighting_record')

    op.drop_table('sighting')


BATCH = 1000
RECORD = sa.table('record', sa.column('seq'), sa.column('id'), sa.column('doc'))
LINK = sa.table('vessel_link', sa.column('key'), sa.column('record_id'))


def _keys(doc: dict[str, Any]) -> set[str]:
    """As models.vessels.vessel_keys links them (copied: migrations do not import app code)."""
    vessels = doc.get('vessels') or ([doc['vessel']] if doc.get('vessel') else [])
    keys = set()
    for vessel in vessels:
        if vessel.get('mmsi'):
            keys.add(f"mmsi:{vessel['mmsi']}")
        if vessel.get('imo'):
            keys.add(f"imo:{vessel['imo']}")
        sign = re.sub(r'[\s-]', '', vessel.get('call_sign') or '').upper()
        if re.fullmatch(r'[A-Z0-9]{1,20}', sign):
            keys.add(f'callsign:{sign}')
    return keys


def _link_existing(connection: sa.Connection) -> None:
    after = 0
    while True:
        rows = connection.execute(
            sa.select(RECORD.c.seq, RECORD.c.id, RECORD.c.doc)
            .where(RECORD.c.seq > after)
            .order_by(RECORD.c.seq)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        links = [
            {'key': key, 'record_id': record_id}
            for _seq, record_id, doc in rows
            for key in sorted(_keys(json.loads(doc)))
        ]
        if links:
            connection.execute(LINK.insert(), links)
        after = rows[-1][0]
