"""media items: the live HLS publication (its prefix, when, when last given out)

Packages made before publications existed sit at hls/assets/<id>/ itself: the rows of items
that may have one there (packaged, or queued for packaging again) point there, and the
on-demand windows keeper moves them to an unguessable prefix at its first sweep, or lets the
pointer go if nothing is there (media/publications.py).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 09:00:00
"""

from alembic import op
import sqlalchemy as sa
import station.db


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

# The rows that may have a package at hls/assets/<id>/ point there (tests run it too).
POINT_AT_LEGACY = (
    "UPDATE media_items SET package_prefix = 'hls/assets/' || CAST(id AS VARCHAR(20)), "
    "package_published_at = updated_at "
    "WHERE package_status IN ('ready', 'queued', 'packaging')"
)


def upgrade() -> None:
    with op.batch_alter_table('media_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('package_prefix', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('package_published_at', station.db.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('package_seen_at', station.db.UtcDateTime(timezone=True), nullable=True))
    op.execute(POINT_AT_LEGACY)


def downgrade() -> None:
    with op.batch_alter_table('media_items', schema=None) as batch_op:
        batch_op.drop_column('package_seen_at')
        batch_op.drop_column('package_published_at')
        batch_op.drop_column('package_prefix')
