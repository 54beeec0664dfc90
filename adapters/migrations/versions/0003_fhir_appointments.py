"""The FHIR Appointments the HTTP API accepted: the last version of each, with its clinic.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE fhir_appointments (
            appointment_id TEXT PRIMARY KEY,
            clinic_id TEXT NOT NULL,
            version_id INTEGER NOT NULL,
            last_updated TEXT NOT NULL,
            resource TEXT NOT NULL
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE fhir_appointments")
