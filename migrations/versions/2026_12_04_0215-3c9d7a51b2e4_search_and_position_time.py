"""search_and_position_time: text search in one normal form, indexed; each record's position time

Revision ID: 3c9d7a51b2e4
Revises: e11053db5ead
Create Date: 2026-12-04 02:15:00.000000

`search_text` is rewritten in the normal form `q` is matched in (services/records/search.py:
accents dropped, casefolded, apostrophes removed); on PostgreSQL a trigram index (pg_trgm)
serves `LIKE '%word%'`, while on SQLite the same index is partial and empty. `position_at`
(when the record's position was true) is filled from each record's stored JSON.
"""

import json
import re
import unicodedata
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

import models.base


revision: str = '3c9d7a51b2e4'
down_revision: str | None = 'e11053db5ead'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000
RECORD = sa.table(
    'record',
    sa.column('seq', sa.Integer),
    sa.column('doc', sa.Text),
    sa.column('search_text', sa.Text),
    sa.column('position_at', models.base.UTCDateTime()),
)


def upgrade() -> None:
    with op.batch_alter_table('record', schema=None) as batch_op:
        batch_op.add_column(sa.Column('position_at', models.base.UTCDateTime(), nullable=True))
    _backfill(op.get_bind())
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
    with op.batch_alter_table('record', schema=None) as batch_op:
        batch_op.create_index(
            'ix_record_search',
            ['search_text'],
            unique=False,
            postgresql_using='gin',
            postgresql_ops={'search_text': 'gin_trgm_ops'},
            sqlite_where=sa.false(),
        )


def downgrade() -> None:
    with op.batch_alter_table('record', schema=None) as batch_op:
        batch_op.drop_index('ix_record_search')
        batch_op.drop_column('position_at')


# The normal form of services/records/search.py as of this revision (copied: migrations do
# not import app code). The old text was the same words lower-cased, so normalising it again
# gives what the new code stores.
_ACCENTS = re.compile('[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]')
_LETTERS = str.maketrans('đĐðÐøØłŁħĦıŀĿŧŦ', 'ddddoollhhilltt')
_APOSTROPHES = re.compile("['\u2018\u2019\u02bc\u02bb`\u00b4]")
_BRACKETS = re.compile(r'[\s,;!?()\[\]{}<>"\u201c\u201d\u00ab\u00bb\u2039\u203a\u3001\u3002]+')
_STOPS = re.compile(r'[.:]+(?= |$)')


def _normalise(text: str) -> str:
    if not text.isascii():
        text = unicodedata.normalize('NFKD', text)
        text = _ACCENTS.sub('', text).translate(_LETTERS)
    text = _APOSTROPHES.sub('', text.casefold())
    return ' '.join(_STOPS.sub('', _BRACKETS.sub(' ', text)).split())


def _position_at(doc_text: str) -> datetime | None:
    doc: dict[str, Any] = json.loads(doc_text)
    moment = (doc.get('position') or {}).get('fix_time') or doc.get('observed_at')
    return datetime.fromisoformat(moment) if moment else None


def _backfill(connection: sa.Connection) -> None:
    """Walk the records in `seq` order, a batch at a time."""
    fill = (
        RECORD.update()
        .where(RECORD.c.seq == sa.bindparam('b_seq'))
        .values(search_text=sa.bindparam('b_text'), position_at=sa.bindparam('b_at'))
    )
    after = -1
    while True:
        rows = connection.execute(
            sa.select(RECORD.c.seq, RECORD.c.search_text, RECORD.c.doc)
            .where(RECORD.c.seq > after)
            .order_by(RECORD.c.seq)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        connection.execute(
            fill,
            [
                {'b_seq': seq, 'b_text': _normalise(text), 'b_at': _position_at(doc)}
                for seq, text, doc in rows
            ],
        )
        after = rows[-1][0]
