"""The service's own state: the SMS ledger (with room for delivery reports), the 1177 inbox ledger,
the directory, and the embedded outbox and inbox. The same tables and columns as the SQLite stores
(times as ISO 8601 text, so both backends run the same queries).

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TABLES = """
CREATE TABLE sent (
    key TEXT PRIMARY KEY,
    provider_id TEXT NOT NULL,
    sent_at TEXT NOT NULL
);
CREATE INDEX sent_provider_id ON sent (provider_id);
CREATE TABLE attempted (
    key TEXT PRIMARY KEY,
    first_at TEXT NOT NULL
);
CREATE TABLE sms_delivery (
    provider_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    delivered_at TEXT,
    updated_at TEXT NOT NULL
);
CREATE TABLE delivered (
    key TEXT PRIMARY KEY,
    message_id TEXT NOT NULL,
    delivered_at TEXT NOT NULL
);
CREATE TABLE clinics (
    clinic_id TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE patients (
    patient_id TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE sms_consents (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    patient_id TEXT NOT NULL REFERENCES patients (patient_id),
    clinic_id TEXT,
    source TEXT NOT NULL CHECK (source IN ('VAS', '1177')),
    given_at TEXT NOT NULL,
    given_at_utc TEXT NOT NULL,
    withdrawn_at TEXT,
    withdrawn_at_utc TEXT,
    recorded_at TEXT NOT NULL
);
CREATE UNIQUE INDEX sms_consents_identity
    ON sms_consents (patient_id, coalesce(clinic_id, ''), source, given_at_utc);
CREATE TABLE outbox (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    to_number TEXT NOT NULL,
    text TEXT NOT NULL,
    sender TEXT NOT NULL,
    sent_at TEXT NOT NULL,
    provider_id TEXT NOT NULL
);
CREATE TABLE inbox (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    patient_id TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    booking_url TEXT,
    delivered_at TEXT NOT NULL,
    message_id TEXT NOT NULL
)
"""


def upgrade() -> None:
    for statement in TABLES.split(";"):
        op.execute(statement)


def downgrade() -> None:
    for table in ("inbox", "outbox", "sms_consents", "patients", "clinics", "delivered", "sms_delivery"):
        op.execute(f"DROP TABLE {table}")
    op.execute("DROP TABLE attempted")
    op.execute("DROP TABLE sent")
