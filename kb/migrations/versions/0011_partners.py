"""regional service partners: the partners table, specialists' and users' partner_id

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 06:40:00
"""

import sqlalchemy as sa
from alembic import op

import kb.models

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('partners',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('regions', sa.JSON(), nullable=False),
    sa.Column('contract_ref', sa.String(length=100), nullable=True),
    sa.Column('reaction_hours', sa.Float(), nullable=False),
    sa.Column('onsite_hours', sa.Float(), nullable=False),
    sa.Column('resolution_hours', sa.Float(), nullable=False),
    sa.Column('hourly_rate', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('calendar', sa.String(length=20), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', kb.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    with op.batch_alter_table('specialists') as batch_op:
        batch_op.add_column(sa.Column('partner_id', sa.Integer(), nullable=True))
        batch_op.create_index('ix_specialists_partner_id', ['partner_id'], unique=False)
        batch_op.create_foreign_key('fk_specialists_partner_id_partners', 'partners', ['partner_id'], ['id'],
                                    ondelete='SET NULL')
    with op.batch_alter_table('users') as batch_op:
        batch_op.add_column(sa.Column('partner_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_users_partner_id_partners', 'partners', ['partner_id'], ['id'],
                                    ondelete='CASCADE')


def downgrade() -> None:
    with op.batch_alter_table('users') as batch_op:
        batch_op.drop_constraint('fk_users_partner_id_partners', type_='foreignkey')
        batch_op.drop_column('partner_id')
    with op.batch_alter_table('specialists') as batch_op:
        batch_op.drop_constraint('fk_specialists_partner_id_partners', type_='foreignkey')
        batch_op.drop_index('ix_specialists_partner_id')
        batch_op.drop_column('partner_id')
    op.drop_table('partners')
