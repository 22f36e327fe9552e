"""API token scopes

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 09:00:00

API tokens get separate scopes: a former « reports:read » token keeps the aggregates (« stats »); full rows now
need a token created with the « reports » scope, on purpose (a dashboard token no longer reads every report).
"""
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("UPDATE api_token SET scopes = 'stats' WHERE scopes = 'reports:read'")


def downgrade() -> None:
    op.execute("UPDATE api_token SET scopes = 'reports:read'")
