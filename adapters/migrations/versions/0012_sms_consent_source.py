"""Issue 28: an SMS consent may come from the patient's reply to a reminder (source `sms`, "STOPP").

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE sms_consents DROP CONSTRAINT IF EXISTS sms_consents_source_check")
    op.execute(
        "ALTER TABLE sms_consents ADD CONSTRAINT sms_consents_source_check"
        " CHECK (source IN ('VAS', '1177', 'sms'))"
    )


def downgrade() -> None:
    op.execute("DELETE FROM sms_consents WHERE source = 'sms'")
    op.execute("ALTER TABLE sms_consents DROP CONSTRAINT IF EXISTS sms_consents_source_check")
    op.execute(
        "ALTER TABLE sms_consents ADD CONSTRAINT sms_consents_source_check CHECK (source IN ('VAS', '1177'))"
    )
