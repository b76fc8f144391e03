"""rates and audit: the settings table (the calculator's price list as data), a node's backup node and runbook

Revision ID: 0009
Revises: 0006
Create Date: 2026-12-02 05:15:00
"""

import sqlalchemy as sa
from alembic import op

import kb.models

revision = '0009'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('settings',
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('value', sa.JSON(), nullable=False),
    sa.Column('updated_at', kb.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('key')
    )
    with op.batch_alter_table('nodes') as batch_op:
        batch_op.add_column(sa.Column('backup_node_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('runbook_article_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_nodes_backup_node_id_nodes', 'nodes', ['backup_node_id'], ['id'],
                                    ondelete='SET NULL')
        batch_op.create_foreign_key('fk_nodes_runbook_article_id_articles', 'articles', ['runbook_article_id'],
                                    ['id'], ondelete='SET NULL')


def downgrade() -> None:
    with op.batch_alter_table('nodes') as batch_op:
        batch_op.drop_constraint('fk_nodes_runbook_article_id_articles', type_='foreignkey')
        batch_op.drop_constraint('fk_nodes_backup_node_id_nodes', type_='foreignkey')
        batch_op.drop_column('runbook_article_id')
        batch_op.drop_column('backup_node_id')
    op.drop_table('settings')
