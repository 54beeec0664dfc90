"""Who reads payloads through the codec server: the audit trail's codec columns (the namespace and
the number of payloads of a `codec.decode`) and the personal codec tokens of named operators (hashed).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

STATEMENTS = [
    "ALTER TABLE audit ADD COLUMN namespace TEXT",
    "ALTER TABLE audit ADD COLUMN payloads INTEGER",
    """
    CREATE TABLE operator_tokens (
        digest TEXT PRIMARY KEY,
        operator TEXT NOT NULL,
        created_at TEXT NOT NULL,
        revoked_at TEXT
    )
    """,
]


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE operator_tokens")
    op.execute("ALTER TABLE audit DROP COLUMN payloads")
    op.execute("ALTER TABLE audit DROP COLUMN namespace")
