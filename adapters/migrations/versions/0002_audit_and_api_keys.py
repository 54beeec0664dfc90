"""The audit trail (append-only: a trigger refuses UPDATE and DELETE) and the API keys (hashed).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

STATEMENTS = [
    """
    CREATE TABLE audit (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        workflow_id TEXT,
        clinic_id TEXT,
        outcome TEXT NOT NULL
    )
    """,
    "CREATE INDEX audit_workflow ON audit (workflow_id)",
    """
    CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'the audit trail is append-only';
    END
    $$
    """,
    """
    CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit
        FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()
    """,
    """
    CREATE TABLE api_keys (
        digest TEXT PRIMARY KEY,
        client_id TEXT NOT NULL,
        clinics TEXT NOT NULL,
        created_at TEXT NOT NULL,
        revoked_at TEXT
    )
    """,
]


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE api_keys")
    op.execute("DROP TABLE audit")
    op.execute("DROP FUNCTION audit_append_only")
