"""audience: the ledger of listening and viewing sessions, and the day keys of its visitor hashes

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 16:30:00
"""

from alembic import op
import sqlalchemy as sa
import station.db


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audience_day_keys',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('key', sa.LargeBinary(length=32), nullable=False),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_audience_day_keys'))
    )
    op.create_table('audience_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_key', sa.String(length=200), nullable=False),
    sa.Column('surface', sa.String(length=16), nullable=False),
    sa.Column('channel', sa.String(length=64), nullable=True),
    sa.Column('mount', sa.String(length=200), nullable=False),
    sa.Column('episode_id', sa.Integer(), nullable=True),
    sa.Column('started_at', station.db.UtcDateTime(), nullable=False),
    sa.Column('last_seen_at', station.db.UtcDateTime(), nullable=False),
    sa.Column('ended_at', station.db.UtcDateTime(), nullable=True),
    sa.Column('seconds', sa.Integer(), nullable=False),
    sa.Column('bytes', sa.BigInteger(), nullable=False),
    sa.Column('visitor', sa.String(length=32), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('player', sa.String(length=64), nullable=False),
    sa.Column('device', sa.String(length=64), nullable=False),
    sa.Column('os', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audience_sessions')),
    sa.UniqueConstraint('source_key', name='uq_audience_sessions_source_key')
    )
    with op.batch_alter_table('audience_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audience_sessions_channel'), ['channel'], unique=False)
        batch_op.create_index(batch_op.f('ix_audience_sessions_ended_at'), ['ended_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audience_sessions_episode_id'), ['episode_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audience_sessions_started_at'), ['started_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audience_sessions_surface'), ['surface'], unique=False)
        batch_op.create_index(batch_op.f('ix_audience_sessions_visitor'), ['visitor'], unique=False)


def downgrade() -> None:
    op.drop_table('audience_sessions')
    op.drop_table('audience_day_keys')
