"""expansion_cursor: an event's expansion may span writer units

`dispatcher_state.after_subscription`: of the event after `last_seq`, the subscriptions up to
this id already have their deliveries. Empty on upgrade: every event before was expanded whole.

Revision ID: 5b1e0c7d9a3f
Revises: 11021e637573
Create Date: 2026-12-05 02:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '5b1e0c7d9a3f'
down_revision: str | None = '11021e637573'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('dispatcher_state') as batch:
        batch.add_column(sa.Column('after_subscription', sa.String(length=36), nullable=True))


def downgrade() -> None:
    # The code before expands an event whole: with one partly expanded it would insert the
    # pairs already made again, and stop on their unique key.
    partly = op.get_bind().execute(
        sa.text('SELECT 1 FROM dispatcher_state WHERE after_subscription IS NOT NULL')
    ).first()
    if partly is not None:
        raise RuntimeError(
            'an event is partly expanded into deliveries: run this version until its dispatcher '
            'has finished it (dispatcher_state.after_subscription empty), then downgrade'
        )
    with op.batch_alter_table('dispatcher_state') as batch:
        batch.drop_column('after_subscription')
