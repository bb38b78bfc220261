"""on-air actions: an operator's skip or play-now, read by the timeline resolver

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 17:00:00
"""

from alembic import op
import sqlalchemy as sa
import station.db


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('onair_actions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('at', station.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('media_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', station.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', station.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['channel_id'], ['channels.id'], name=op.f('fk_onair_actions_channel_id_channels'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['media_id'], ['media_items.id'], name=op.f('fk_onair_actions_media_id_media_items'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_onair_actions'))
    )
    op.create_index(op.f('ix_onair_actions_at'), 'onair_actions', ['at'], unique=False)
    op.create_index(op.f('ix_onair_actions_channel_id'), 'onair_actions', ['channel_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_onair_actions_channel_id'), table_name='onair_actions')
    op.drop_index(op.f('ix_onair_actions_at'), table_name='onair_actions')
    op.drop_table('onair_actions')
