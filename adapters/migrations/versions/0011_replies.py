"""Issue 28, replies: the reminder SMS sent from a clinic's virtual number (`reply_sms`: the number
only as a keyed digest) and the inbound replies (`inbound_replies`: the sender and the text sealed).

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

STATEMENTS = [
    """
    CREATE TABLE reply_sms (
        key TEXT PRIMARY KEY,
        reply_number TEXT NOT NULL,
        to_digest TEXT NOT NULL,
        workflow_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        role TEXT NOT NULL,
        clinic_id TEXT NOT NULL,
        visit_start TEXT NOT NULL,
        sent_at TEXT NOT NULL
    )
    """,
    "CREATE INDEX reply_sms_to ON reply_sms (reply_number, to_digest)",
    """
    CREATE TABLE inbound_replies (
        inbound_id TEXT PRIMARY KEY,
        reply_number TEXT NOT NULL,
        clinic_id TEXT,
        sender_sealed TEXT NOT NULL,
        text_sealed TEXT NOT NULL,
        received_at TEXT NOT NULL,
        word TEXT NOT NULL,
        outcome TEXT NOT NULL,
        workflow_id TEXT,
        version INTEGER,
        role TEXT,
        signalled INTEGER NOT NULL DEFAULT 0
    )
    """,
    "CREATE INDEX inbound_replies_clinic ON inbound_replies (clinic_id, received_at)",
]


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    for table in ("inbound_replies", "reply_sms"):
        op.execute(f"DROP TABLE {table}")
