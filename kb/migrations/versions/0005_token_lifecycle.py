"""token lifecycle: scopes, expiry and revocation of API tokens

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 23:30:00
"""

import sqlalchemy as sa
from alembic import op

import kb.models

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('api_tokens') as batch_op:
        batch_op.add_column(sa.Column('scopes', sa.JSON(), nullable=False, server_default='["read", "write"]'))
        batch_op.add_column(sa.Column('expires_at', kb.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('revoked_at', kb.models.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('api_tokens') as batch_op:
        batch_op.drop_column('revoked_at')
        batch_op.drop_column('expires_at')
        batch_op.drop_column('scopes')
