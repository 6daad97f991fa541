"""coordination_and_ack_deadlines: a distress report's coordinating RCC, acknowledgement deadlines

Existing distress reports get their coordinator from their current version; existing records
get no deadline (none was asked for when they were sent).

Revision ID: 19b9f9e47e20
Revises: 6d09de004152
Create Date: 2026-12-04 02:02:25.550738
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import models.base


revision: str = '19b9f9e47e20'
down_revision: str | None = '6d09de004152'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('record', schema=None) as batch_op:
        batch_op.add_column(sa.Column('coordinator', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
        batch_op.add_column(sa.Column('ack_due_at', models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('ack_check_at', models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_record_ack_check_at', ['ack_check_at'], unique=False)
    if op.get_bind().dialect.name == 'sqlite':
        coordinating = "json_extract(doc, '$.coordinating_rcc')"
    else:
        coordinating = "CAST(doc AS json) ->> 'coordinating_rcc'"
    op.execute(f"UPDATE record SET coordinator = {coordinating} WHERE kind = 'distress'")


def downgrade() -> None:
    with op.batch_alter_table('record', schema=None) as batch_op:
        batch_op.drop_index('ix_record_ack_check_at')
        batch_op.drop_column('ack_check_at')
        batch_op.drop_column('ack_due_at')
        batch_op.drop_column('coordinator')
