"""The staff page's sessions, kept server-side: found by the SHA-256 of the cookie's id, ended by
deleting the row (logout, `starter.py admin sessions revoke`).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

STATEMENTS = [
    """
    CREATE TABLE staff_sessions (
        digest TEXT PRIMARY KEY,
        user_id TEXT,
        data TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL
    )
    """,
    "CREATE INDEX staff_sessions_user ON staff_sessions (user_id)",
    "CREATE INDEX staff_sessions_expiry ON staff_sessions (expires_at)",
]


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE staff_sessions")
