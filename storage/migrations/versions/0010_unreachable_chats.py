"""chats the bot can no longer write to (removed from a group, blocked by a person)

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-02 18:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
import storage.base


revision = '0010'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('unreachable_chat',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform', sa.String(length=20), nullable=False),
    sa.Column('chat_id', sa.String(length=200), nullable=False),
    sa.Column('since', storage.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_unreachable_chat')),
    sa.UniqueConstraint('platform', 'chat_id', name=op.f('uq_unreachable_chat_platform_chat_id'))
    )


def downgrade() -> None:
    op.drop_table('unreachable_chat')
