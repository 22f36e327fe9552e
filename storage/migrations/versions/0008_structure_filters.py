"""structure filters, vocabularies, re-import flags

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 17:40:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('structure', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tags', sa.String(length=300), server_default='', nullable=False))
        batch_op.add_column(sa.Column('thematiques', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('bring', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('missing', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('hidden', sa.String(length=20), server_default='', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('structure', schema=None) as batch_op:
        batch_op.drop_column('hidden')
        batch_op.drop_column('missing')
        batch_op.drop_column('bring')
        batch_op.drop_column('thematiques')
        batch_op.drop_column('tags')
