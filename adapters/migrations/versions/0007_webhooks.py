"""The booking systems' webhooks (one per API client and clinic, the signing secret sealed with the
keyring) and the deliveries of their events (issue 26, item 3; docs/webhooks.md).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

STATEMENTS = [
    """
    CREATE TABLE webhooks (
        client_id TEXT NOT NULL,
        clinic_id TEXT NOT NULL,
        url TEXT NOT NULL,
        secret TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (client_id, clinic_id)
    )
    """,
    "CREATE INDEX webhooks_clinic ON webhooks (clinic_id)",
    """
    CREATE TABLE webhook_deliveries (
        event_id TEXT NOT NULL,
        event_type TEXT NOT NULL,
        client_id TEXT NOT NULL,
        clinic_id TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        last_status_code INTEGER,
        last_error TEXT,
        first_attempt_at TEXT NOT NULL,
        last_attempt_at TEXT NOT NULL,
        delivered_at TEXT,
        body TEXT NOT NULL,
        PRIMARY KEY (event_id, client_id, clinic_id)
    )
    """,
    "CREATE INDEX webhook_deliveries_client ON webhook_deliveries (client_id, status, last_attempt_at)",
]


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE webhook_deliveries")
    op.execute("DROP TABLE webhooks")
