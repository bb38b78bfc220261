"""as-run: the TV segments an item aired as

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 05:45:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('as_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('first_seq', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('last_seq', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('as_run', schema=None) as batch_op:
        batch_op.drop_column('last_seq')
        batch_op.drop_column('first_seq')
