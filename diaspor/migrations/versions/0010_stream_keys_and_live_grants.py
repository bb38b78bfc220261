"""live: presenters' stream keys, and the grant each live mount was last given

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 11:30:00
"""

from alembic import op
import sqlalchemy as sa
import station.db


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('stream_keys',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('key_sha256', sa.String(length=64), nullable=False),
    sa.Column('hint', sa.String(length=8), nullable=False),
    sa.Column('created_at', station.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_stream_keys_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_stream_keys')),
    sa.UniqueConstraint('key_sha256', name=op.f('uq_stream_keys_key_sha256'))
    )
    op.create_table('live_grants',
    sa.Column('channel', sa.String(length=64), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('until', station.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('granted_at', station.db.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('channel', name=op.f('pk_live_grants'))
    )


def downgrade() -> None:
    op.drop_table('live_grants')
    op.drop_table('stream_keys')
