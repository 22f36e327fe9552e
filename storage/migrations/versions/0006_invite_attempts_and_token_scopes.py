"""invite attempts and API token scopes

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 09:00:00

Wrong invitation codes are counted per person (hashed), to slow down guessing. API tokens get separate scopes:
a former « reports:read » token keeps the aggregates (« stats »); full rows now need a token created with the
« reports » scope, on purpose (a dashboard token no longer reads every report).
"""
from alembic import op
import sqlalchemy as sa
import storage.base


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('invite_attempt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('who', sa.String(length=64), nullable=False),
    sa.Column('at', storage.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invite_attempt'))
    )
    with op.batch_alter_table('invite_attempt', schema=None) as batch_op:
        batch_op.create_index('ix_invite_attempt_who_at', ['who', 'at'], unique=False)
        batch_op.create_index(batch_op.f('ix_invite_attempt_at'), ['at'], unique=False)
    op.execute("UPDATE api_token SET scopes = 'stats' WHERE scopes = 'reports:read'")


def downgrade() -> None:
    op.execute("UPDATE api_token SET scopes = 'reports:read'")
    with op.batch_alter_table('invite_attempt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invite_attempt_at'))
        batch_op.drop_index('ix_invite_attempt_who_at')
    op.drop_table('invite_attempt')
