"""intake and outbox: attachments, quarantined e-mail, the outbox of outgoing mail, unmatched alerts,
the client's mail language

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 05:00:00
"""

import sqlalchemy as sa
from alembic import op

import kb.models

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def _instant(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, kb.models.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table('clients') as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=2), nullable=True))
    op.create_table(
        'attachments',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('ticket_id', sa.Integer(), sa.ForeignKey('tickets.id', ondelete='CASCADE'), nullable=False),
        sa.Column('comment_id', sa.Integer(), sa.ForeignKey('comments.id', ondelete='SET NULL'), nullable=True),
        sa.Column('filename', sa.String(length=255), nullable=False),
        sa.Column('content_type', sa.String(length=100), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('content', sa.LargeBinary(), nullable=False),
        _instant('created_at', False),
    )
    op.create_index('ix_attachments_ticket_id', 'attachments', ['ticket_id'])
    op.create_table(
        'quarantined_messages',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('sender', sa.String(length=200), nullable=False),
        sa.Column('subject', sa.String(length=500), nullable=False),
        sa.Column('reason', sa.String(length=500), nullable=False),
        sa.Column('raw', sa.LargeBinary(), nullable=False),
        _instant('received_at', False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('decided_by', sa.String(length=200), nullable=True),
        _instant('decided_at'),
        sa.Column('ticket_id', sa.Integer(), sa.ForeignKey('tickets.id', ondelete='SET NULL'), nullable=True),
    )
    op.create_index('ix_quarantined_messages_sender', 'quarantined_messages', ['sender'])
    op.create_index('ix_quarantined_messages_received_at', 'quarantined_messages', ['received_at'])
    op.create_index('ix_quarantined_messages_status', 'quarantined_messages', ['status'])
    op.create_table(
        'outbox_messages',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('kind', sa.String(length=40), nullable=False),
        sa.Column('ticket_id', sa.Integer(), sa.ForeignKey('tickets.id', ondelete='SET NULL'), nullable=True),
        sa.Column('recipients', sa.JSON(), nullable=False),
        sa.Column('subject', sa.String(length=500), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('html', sa.Text(), nullable=True),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        _instant('next_attempt_at', False),
        sa.Column('last_error', sa.Text(), nullable=True),
        _instant('created_at', False),
        _instant('sent_at'),
    )
    op.create_index('ix_outbox_due', 'outbox_messages', ['status', 'next_attempt_at'])
    op.create_index('ix_outbox_messages_ticket_id', 'outbox_messages', ['ticket_id'])
    op.create_table(
        'unmatched_alerts',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('fingerprint', sa.String(length=100), nullable=False),
        sa.Column('alert_status', sa.String(length=20), nullable=False),
        sa.Column('alertname', sa.String(length=200), nullable=True),
        sa.Column('labels', sa.JSON(), nullable=False),
        sa.Column('annotations', sa.JSON(), nullable=False),
        sa.Column('reason', sa.String(length=500), nullable=False),
        _instant('received_at', False),
        sa.Column('repeats', sa.Integer(), nullable=False),
        sa.Column('node_id', sa.Integer(), sa.ForeignKey('nodes.id', ondelete='SET NULL'), nullable=True),
        sa.Column('ticket_id', sa.Integer(), sa.ForeignKey('tickets.id', ondelete='SET NULL'), nullable=True),
        sa.Column('linked_by', sa.String(length=200), nullable=True),
    )
    op.create_index('ix_unmatched_alerts_fingerprint', 'unmatched_alerts', ['fingerprint'])
    op.create_index('ix_unmatched_alerts_received_at', 'unmatched_alerts', ['received_at'])


def downgrade() -> None:
    op.drop_table('unmatched_alerts')
    op.drop_table('outbox_messages')
    op.drop_table('quarantined_messages')
    op.drop_table('attachments')
    with op.batch_alter_table('clients') as batch_op:
        batch_op.drop_column('language')
