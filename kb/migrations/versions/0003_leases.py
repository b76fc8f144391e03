"""leases: one holder at a time for periodic jobs run by several processes

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 11:20:00
"""

import sqlalchemy as sa
from alembic import op

import kb.models

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('leases',
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('holder', sa.String(length=200), nullable=False),
    sa.Column('expires_at', kb.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )


def downgrade() -> None:
    op.drop_table('leases')
