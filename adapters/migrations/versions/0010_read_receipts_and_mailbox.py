"""Issue 27, routing with fallback on unread: when the patient read a message of the embedded 1177
inbox (`inbox.read_at`), and the digital mailbox (adapters/mailbox.py): the embedded mailbox's holders
and delivered messages, and the ledger of the HTTP mailbox's accepted keys.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

STATEMENTS = [
    "ALTER TABLE inbox ADD COLUMN read_at TEXT",
    """
    CREATE TABLE mailbox_holders (
        patient_id TEXT PRIMARY KEY,
        supplier TEXT NOT NULL,
        registered_at TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE mailbox_messages (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,
        patient_id TEXT NOT NULL,
        supplier TEXT NOT NULL,
        sender_name TEXT NOT NULL,
        subject TEXT NOT NULL,
        body TEXT NOT NULL,
        delivered_at TEXT NOT NULL,
        message_id TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE mailbox_delivered (
        key TEXT PRIMARY KEY,
        message_id TEXT NOT NULL,
        supplier TEXT NOT NULL,
        delivered_at TEXT NOT NULL
    )
    """,
]


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    for table in ("mailbox_delivered", "mailbox_messages", "mailbox_holders"):
        op.execute(f"DROP TABLE {table}")
    op.execute("ALTER TABLE inbox DROP COLUMN read_at")
