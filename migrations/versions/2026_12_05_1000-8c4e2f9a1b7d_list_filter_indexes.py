"""list_filter_indexes: the list filters that match few records get an index each

`sender_country`, `category` and `state` lead an index with `seq` after them (newest first,
the page ends as it fills); `updated_since` has one on `updated_at`. Before, a filter matching
a few records walked the whole list index on SQLite and scanned the table on PostgreSQL
(58-129 ms at 200k records).

Revision ID: 8c4e2f9a1b7d
Revises: 5b1e0c7d9a3f
Create Date: 2026-12-05 10:00:00
"""

from collections.abc import Sequence

from alembic import op


revision: str = '8c4e2f9a1b7d'
down_revision: str | None = '5b1e0c7d9a3f'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    'ix_record_sender_country': ['kind', 'status', 'sender_country', 'seq'],
    'ix_record_category': ['kind', 'status', 'category', 'seq'],
    'ix_record_state': ['kind', 'status', 'state', 'seq'],
    'ix_record_updated': ['kind', 'status', 'updated_at'],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, 'record', columns)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name='record')
