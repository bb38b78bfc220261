"""HLS packaging status of media items

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 05:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('media_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('package_status', sa.String(length=16), server_default='none', nullable=False))
        batch_op.add_column(sa.Column('package_error', sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f('ix_media_items_package_status'), ['package_status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('media_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_media_items_package_status'))
        batch_op.drop_column('package_error')
        batch_op.drop_column('package_status')
