"""Issue 28: staff mark a reply of the unmatched list handled (`inbound_replies.handled_at`); the reply
is kept, the list stops showing it.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE inbound_replies ADD COLUMN handled_at TEXT")


def downgrade() -> None:
    op.execute("ALTER TABLE inbound_replies DROP COLUMN handled_at")
