"""purge_index_skips_held: the retention purge's index holds only records it may purge

`ix_record_retain_until` held every record with a date, the held ones too: with 60,000 expired
records on legal hold a purge round filtered all of them away, every minute, inside the
dispatcher's writer unit (20-24 ms on PostgreSQL). It is now partial (neither purged nor held)
and ends with `seq`, the purge's order after `retain_until`.

Revision ID: 3f6a9d2c8e41
Revises: 8c4e2f9a1b7d
Create Date: 2026-12-05 10:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '3f6a9d2c8e41'
down_revision: str | None = '8c4e2f9a1b7d'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index('ix_record_retain_until', table_name='record')
    op.create_index(
        'ix_record_retain_until',
        'record',
        ['retain_until', 'seq'],
        sqlite_where=sa.text('purged_at IS NULL AND legal_hold IS 0'),
        postgresql_where=sa.text('purged_at IS NULL AND legal_hold IS false'),
    )


def downgrade() -> None:
    op.drop_index('ix_record_retain_until', table_name='record')
    op.create_index('ix_record_retain_until', 'record', ['retain_until'])
