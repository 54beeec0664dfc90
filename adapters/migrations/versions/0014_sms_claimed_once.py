"""Issue 29: a provider message id is recorded for one key at most (`unknown` excepted), and the
latest unanswered attempt of a key is kept beside its first (the wait for the provider's history).

A database that already holds one provider id under several keys (the race this closes) keeps it
for the key that recorded it first; the others become `unknown` (still sent: nothing is sent again).

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        UPDATE sent SET provider_id = 'unknown' WHERE provider_id <> 'unknown' AND EXISTS (
            SELECT 1 FROM sent AS first WHERE first.provider_id = sent.provider_id
            AND (first.sent_at < sent.sent_at OR (first.sent_at = sent.sent_at AND first.key < sent.key))
        )
        """
    )
    op.execute(
        "CREATE UNIQUE INDEX sent_provider_id_once ON sent (provider_id) WHERE provider_id <> 'unknown'"
    )
    op.execute("ALTER TABLE attempted ADD COLUMN last_at TEXT")


def downgrade() -> None:
    op.execute("ALTER TABLE attempted DROP COLUMN last_at")
    op.execute("DROP INDEX sent_provider_id_once")
