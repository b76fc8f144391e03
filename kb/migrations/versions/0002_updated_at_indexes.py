"""index updated_at of indexable rows

The search index catches up with other processes' changes by asking for rows updated after its
watermark, once a second; without these indexes that was a full table scan (40-80 ms at 100k tickets).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 10:20:00
"""

from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

TABLES = ("tickets", "articles", "known_problems")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(batch_op.f(f"ix_{table}_updated_at"), ["updated_at"], unique=False)


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{table}_updated_at"))
