"""rate_buckets: token buckets shared by every process (request and token-failure limits)

Revision ID: e11053db5ead
Revises: 883240a1a3b2
Create Date: 2026-12-03 21:30:44.689533
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import models.base


revision: str = 'e11053db5ead'
down_revision: str | None = '883240a1a3b2'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('rate_bucket',
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('tokens', sa.Float(), nullable=False),
    sa.Column('stamp', sa.Float(), nullable=False),
    sa.Column('full_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_rate_bucket'))
    )
    with op.batch_alter_table('rate_bucket', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rate_bucket_full_at'), ['full_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('rate_bucket', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rate_bucket_full_at'))

    op.drop_table('rate_bucket')
