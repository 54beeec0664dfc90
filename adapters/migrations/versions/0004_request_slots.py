"""The SMS provider's rate shared by every worker: the next free request slot of each rate limit
(unix seconds), as in the SQLite ledger.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE TABLE request_slots (name TEXT PRIMARY KEY, next_at DOUBLE PRECISION NOT NULL)")


def downgrade() -> None:
    op.execute("DROP TABLE request_slots")
