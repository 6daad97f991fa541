"""list_filter_indexes: the list filters that match few records get an index each, and the
cases walk one of its own

`sender_country`, `category` and `state` lead an index with `seq` after them (newest first,
the page ends as it fills); `updated_since` has one on `updated_at`. Before, a filter matching
a few records walked the whole list index on SQLite and scanned the table on PostgreSQL
(58-129 ms at 200k records). `GET /v1/cases` walks the records in a case newest first, of
every kind: SQLite with no statistics read them all and sorted them. `ix_record_case` takes
`status` and `kind` after `case_id`, so that SQLite, with no statistics, still prefers it to
the indexes above when a case is asked for.

Revision ID: 8c4e2f9a1b7d
Revises: 5b1e0c7d9a3f
Create Date: 2026-12-05 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
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


IN_CASE = sa.text('case_id IS NOT NULL')


def upgrade() -> None:
    op.drop_index('ix_record_case', table_name='record')
    op.create_index('ix_record_case', 'record', ['case_id', 'status', 'kind', 'seq'])
    for name, columns in INDEXES.items():
        op.create_index(name, 'record', columns)
    op.create_index(
        'ix_record_in_case',
        'record',
        ['status', 'seq'],
        sqlite_where=IN_CASE,
        postgresql_where=IN_CASE,
    )


def downgrade() -> None:
    op.drop_index('ix_record_in_case', table_name='record')
    for name in INDEXES:
        op.drop_index(name, table_name='record')
    op.drop_index('ix_record_case', table_name='record')
    op.create_index('ix_record_case', 'record', ['case_id', 'seq'])
