"""tenant boundary: client contacts and mail domains, user e-mail and session version, login failures,
the requester's urgency, one open monitoring incident per client and alert

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 22:10:00
"""

import sqlalchemy as sa
from alembic import op

import kb.models

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('client_contacts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('email')
    )
    op.create_index('ix_client_contacts_client_id', 'client_contacts', ['client_id'], unique=False)
    op.create_table('login_failures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=300), nullable=False),
    sa.Column('at', kb.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_login_failures_key', 'login_failures', ['key'], unique=False)
    op.create_index('ix_login_failures_at', 'login_failures', ['at'], unique=False)
    with op.batch_alter_table('clients') as batch_op:
        batch_op.add_column(sa.Column('email_domains', sa.JSON(), nullable=False, server_default='[]'))
    with op.batch_alter_table('users') as batch_op:
        batch_op.add_column(sa.Column('email', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('session_version', sa.Integer(), nullable=False, server_default='0'))
    with op.batch_alter_table('tickets') as batch_op:
        batch_op.add_column(sa.Column('urgency', sa.String(length=20), nullable=True))
    op.create_index('uq_tickets_open_alert', 'tickets', ['client_id', 'alert_fingerprint'], unique=True,
                    sqlite_where=kb.models.OPEN_ALERT, postgresql_where=kb.models.OPEN_ALERT)


def downgrade() -> None:
    op.drop_index('uq_tickets_open_alert', table_name='tickets')
    with op.batch_alter_table('tickets') as batch_op:
        batch_op.drop_column('urgency')
    with op.batch_alter_table('users') as batch_op:
        batch_op.drop_column('session_version')
        batch_op.drop_column('email')
    with op.batch_alter_table('clients') as batch_op:
        batch_op.drop_column('email_domains')
    op.drop_index('ix_login_failures_at', table_name='login_failures')
    op.drop_index('ix_login_failures_key', table_name='login_failures')
    op.drop_table('login_failures')
    op.drop_index('ix_client_contacts_client_id', table_name='client_contacts')
    op.drop_table('client_contacts')
