"""The clinics' bookable times (issue 27, V8 the offer): free and busy slots per clinic, reception and
visit type, written by the booking system (FHIR `Slot`), taken by a booking (`adapters/slots.py`).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

STATEMENTS = [
    """
    CREATE TABLE clinic_slots (
        clinic_id TEXT NOT NULL,
        slot_id TEXT NOT NULL,
        reception_id TEXT NOT NULL,
        visit_type TEXT NOT NULL,
        start_at TEXT NOT NULL,
        end_at TEXT NOT NULL,
        free INTEGER NOT NULL,
        taken_by TEXT,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (clinic_id, slot_id)
    )
    """,
    "CREATE INDEX clinic_slots_offer ON clinic_slots (clinic_id, reception_id, visit_type, free, start_at)",
]


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE clinic_slots")
