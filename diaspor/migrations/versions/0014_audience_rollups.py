"""audience rollups: closed sessions added up by hour and cell, visitors by day, the minute marks' running count; a session says once it is counted

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 16:20:00
"""

from alembic import op
import sqlalchemy as sa
import station.db


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audience_day_visitors',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('visitor', sa.String(length=32), nullable=False),
    sa.Column('surface', sa.String(length=16), nullable=False),
    sa.Column('channel', sa.String(length=64), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('episode_id', sa.Integer(), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('player', sa.String(length=64), nullable=False),
    sa.Column('device', sa.String(length=64), nullable=False),
    sa.Column('os', sa.String(length=64), nullable=False),
    sa.Column('hours', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audience_day_visitors')),
    sa.UniqueConstraint('day', 'visitor', 'surface', 'channel', 'programme_id', 'episode_id', name='uq_audience_day_visitors_cell')
    )
    with op.batch_alter_table('audience_day_visitors', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audience_day_visitors_day'), ['day'], unique=False)

    op.create_table('audience_hours',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hour', station.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('surface', sa.String(length=16), nullable=False),
    sa.Column('channel', sa.String(length=64), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('player', sa.String(length=64), nullable=False),
    sa.Column('device', sa.String(length=64), nullable=False),
    sa.Column('os', sa.String(length=64), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('episode_id', sa.Integer(), nullable=False),
    sa.Column('sessions', sa.Integer(), nullable=False),
    sa.Column('joined', sa.Integer(), nullable=False),
    sa.Column('seconds', sa.BigInteger(), nullable=False),
    sa.Column('on_at_start', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audience_hours')),
    sa.UniqueConstraint('hour', 'surface', 'channel', 'country', 'player', 'device', 'os', 'programme_id', 'episode_id', name='uq_audience_hours_cell')
    )
    with op.batch_alter_table('audience_hours', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audience_hours_hour'), ['hour'], unique=False)

    op.create_table('audience_minutes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mark', sa.BigInteger(), nullable=False),
    sa.Column('surface', sa.String(length=16), nullable=False),
    sa.Column('channel', sa.String(length=64), nullable=False),
    sa.Column('delta', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audience_minutes')),
    sa.UniqueConstraint('mark', 'surface', 'channel', name='uq_audience_minutes_cell')
    )
    with op.batch_alter_table('audience_minutes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audience_minutes_mark'), ['mark'], unique=False)

    with op.batch_alter_table('audience_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rolled', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_index(batch_op.f('ix_audience_sessions_rolled'), ['rolled'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('audience_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audience_sessions_rolled'))
        batch_op.drop_column('rolled')

    with op.batch_alter_table('audience_minutes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audience_minutes_mark'))

    op.drop_table('audience_minutes')
    with op.batch_alter_table('audience_hours', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audience_hours_hour'))

    op.drop_table('audience_hours')
    with op.batch_alter_table('audience_day_visitors', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audience_day_visitors_day'))

    op.drop_table('audience_day_visitors')
