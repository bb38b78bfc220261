"""episode availability windows and folded titles for catalogue search

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 09:00:00
"""

import unicodedata

from alembic import op
import sqlalchemy as sa
import station.db


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def fold(text: str) -> str:
    """schedules.models.search_fold as it was when this ran (migrations do not import app code)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return bare.translate(str.maketrans("əı", "ei"))


def upgrade() -> None:
    with op.batch_alter_table('episodes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('available_from', station.db.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('available_until', station.db.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('search_text', sa.Text(), server_default='', nullable=False))
    with op.batch_alter_table('programmes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('search_text', sa.Text(), server_default='', nullable=False))
    # Rows made before this revision: their titles, folded, as new writes will keep them.
    conn = op.get_bind()
    for name in ('episodes', 'programmes'):
        table = sa.table(name, sa.column('id', sa.Integer), sa.column('titles', sa.JSON),
                         sa.column('search_text', sa.Text))
        for rid, titles in conn.execute(sa.select(table.c.id, table.c.titles)).all():
            text = " ".join(fold(t) for t in (titles or {}).values() if t)
            conn.execute(table.update().where(table.c.id == rid).values(search_text=text))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+ has it): a batch copy of these tables would have to
    # drop them, which SQLite refuses while other tables' foreign keys point at them.
    op.drop_column('programmes', 'search_text')
    op.drop_column('episodes', 'search_text')
    op.drop_column('episodes', 'available_until')
    op.drop_column('episodes', 'available_from')
