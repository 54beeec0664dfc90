"""Issue 28: what replies need remembered — which reminder SMS went to which number from which
virtual number (`reply_sms`, to match a reply), and every inbound reply by the provider's id
(`inbound_replies`: one answer per id, and the staff list of replies no reminder could take).

Numbers are never stored in clear: a number is looked up by its digest, an HMAC-SHA256 under a key
derived from each key of the payload keyring (a rotation keeps older digests findable), and the
sender's number and the text of a reply are sealed with the keyring (`security.at_rest`), bound to
their row. One set of queries (adapters/sql.py) on SQLite or PostgreSQL (migration 0011).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import AwareDatetime

from adapters.postgres import PostgresTable
from adapters.sql import Connection, rows
from adapters.sqlite import SqliteFile
from domain.replies import MatchOutcome, ReplyWord, SentReminderSms
from domain.status import RecipientRole
from domain.types import ContractModel
from security.at_rest import seal, unseal
from security.keyring import Keyring

__all__ = ["InboundReply", "PostgresReplies", "Replies", "SqliteReplies", "StoredReply"]

_DIGEST_LABEL = b"pm-reply-number-digest:v1"


class InboundReply(ContractModel):
    """One inbound SMS as the provider posted it (the text and the sender's number are patient data)."""

    inbound_id: str
    reply_number: str  # the clinic's virtual number it was sent to
    sender: str  # the patient's or guardian's number
    text: str
    received_at: AwareDatetime


class StoredReply(ContractModel):
    """An inbound reply as kept: what it was read and matched as; `text`/`sender` only when opened."""

    inbound_id: str
    clinic_id: str | None
    received_at: AwareDatetime
    word: ReplyWord
    outcome: MatchOutcome
    workflow_id: str | None = None
    version: int | None = None
    role: RecipientRole | None = None
    signalled: bool = False
    handled_at: AwareDatetime | None = None  # staff marked it handled (unmatched, ambiguous)
    sender: str | None = None
    text: str | None = None


class Replies:
    """The reply store: the reminder SMS sent from virtual numbers, and the inbound replies."""

    keyring: Callable[[], Keyring] | None = None  # set by `infrastructure.stores.Stores`
    _read: Callable[[], AbstractContextManager[Connection]]  # from the backend (adapters/sql.py)
    _write: Callable[[], AbstractContextManager[Connection]]

    def _keys(self) -> Keyring:
        if self.keyring is None:
            raise RuntimeError("the reply store needs the keyring (open it with Stores): no number in clear")
        return self.keyring()

    def _digests(self, number: str) -> list[str]:
        """The number's digest under every key of the keyring, the current key's first."""
        keys = self._keys().keys[::-1]
        return [
            hmac.new(
                hmac.new(k.secret, _DIGEST_LABEL, hashlib.sha256).digest(), number.encode(), "sha256"
            ).hexdigest()
            for k in keys
        ]

    # --- the SMS sent from a virtual number ---------------------------------------------------------

    def record_sent(self, key: str, reply_number: str, to: str, sms: SentReminderSms) -> None:
        """Remember that the reminder SMS `key` (`sms`) went to `to` from `reply_number` (the first
        record of a key is kept: a retry's duplicate is the same SMS)."""
        with self._write() as conn:
            conn.execute(
                "INSERT INTO reply_sms (key, reply_number, to_digest, workflow_id, version, role,"
                " clinic_id, visit_start, sent_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (key) DO NOTHING",
                (
                    key,
                    reply_number,
                    self._digests(to)[0],
                    sms.workflow_id,
                    sms.version,
                    sms.role.value,
                    sms.clinic_id,
                    sms.visit_start.astimezone(UTC).isoformat(),
                    sms.sent_at.astimezone(UTC).isoformat(),
                ),
            )

    def sent_to(self, reply_number: str, number: str) -> list[SentReminderSms]:
        """The reminder SMS sent to `number` from `reply_number` (every version and role)."""
        digests = self._digests(number)
        marks = ", ".join("?" for _ in digests)
        with self._read() as conn:
            found = rows(
                conn.execute(
                    "SELECT workflow_id, version, role, clinic_id, visit_start, sent_at FROM reply_sms"
                    f" WHERE reply_number = ? AND to_digest IN ({marks})",
                    (reply_number, *digests),
                )
            )
        return [
            SentReminderSms(
                workflow_id=row["workflow_id"],
                version=row["version"],
                role=RecipientRole(row["role"]),
                clinic_id=row["clinic_id"],
                sent_at=datetime.fromisoformat(row["sent_at"]),
                visit_start=datetime.fromisoformat(row["visit_start"]),
            )
            for row in found
        ]

    # --- the inbound replies ------------------------------------------------------------------------

    def keep(
        self,
        reply: InboundReply,
        clinic_id: str | None,
        word: ReplyWord,
        outcome: MatchOutcome,
        sms: SentReminderSms | None,
    ) -> tuple[StoredReply, bool]:
        """Keep an inbound reply under its provider id; returns the kept reply and whether it is new
        (the same id again keeps the first: 46elks retries)."""
        place = f"inbound_replies:{reply.inbound_id}"
        keyring = self._keys()
        with self._write() as conn:
            inserted = conn.execute(
                "INSERT INTO inbound_replies (inbound_id, reply_number, clinic_id, sender_sealed,"
                " text_sealed, received_at, word, outcome, workflow_id, version, role, signalled)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0) ON CONFLICT (inbound_id) DO NOTHING",
                (
                    reply.inbound_id,
                    reply.reply_number,
                    clinic_id,
                    seal(keyring, reply.sender.encode(), f"{place}:sender"),
                    seal(keyring, reply.text.encode(), f"{place}:text"),
                    reply.received_at.astimezone(UTC).isoformat(),
                    word.value,
                    outcome.value,
                    sms.workflow_id if sms else None,
                    sms.version if sms else None,
                    sms.role.value if sms else None,
                ),
            ).rowcount
        kept = self.reply(reply.inbound_id)
        assert kept is not None  # just written, or there before
        return kept, inserted == 1

    def mark_signalled(self, inbound_id: str) -> None:
        with self._write() as conn:
            conn.execute("UPDATE inbound_replies SET signalled = 1 WHERE inbound_id = ?", (inbound_id,))

    def mark_handled(self, inbound_id: str, clinic_id: str, at: datetime) -> bool:
        """Staff have handled a reply of the clinic's list: kept, off the list. False when the clinic has
        no such reply on its list (another clinic's, a matched one, or none); a repeat keeps the first
        time and answers True."""
        with self._write() as conn:
            conn.execute(
                "UPDATE inbound_replies SET handled_at = ? WHERE inbound_id = ? AND clinic_id = ?"
                " AND outcome IN (?, ?) AND handled_at IS NULL",
                (at.astimezone(UTC).isoformat(), inbound_id, clinic_id, *_STAFF_OUTCOMES),
            )
            found = conn.execute(
                "SELECT 1 FROM inbound_replies WHERE inbound_id = ? AND clinic_id = ? AND outcome IN (?, ?)",
                (inbound_id, clinic_id, *_STAFF_OUTCOMES),
            ).fetchone()
        return found is not None

    def reply(self, inbound_id: str, *, opened: bool = False) -> StoredReply | None:
        with self._read() as conn:
            row = conn.execute(f"{_SELECT} WHERE inbound_id = ?", (inbound_id,)).fetchone()
        return self._stored(dict(row), opened) if row else None

    def for_staff(self, clinic_id: str, *, limit: int = 200) -> list[StoredReply]:
        """The clinic's replies no reminder took (unmatched, ambiguous) and nobody has handled yet,
        newest first, opened (the staff page masks the number)."""
        with self._read() as conn:
            found = rows(
                conn.execute(
                    f"{_SELECT} WHERE clinic_id = ? AND outcome IN (?, ?) AND handled_at IS NULL"
                    " ORDER BY received_at DESC LIMIT ?",
                    (clinic_id, *_STAFF_OUTCOMES, limit),
                )
            )
        return [self._stored(row, True) for row in found]

    def _stored(self, row: dict[str, Any], opened: bool) -> StoredReply:
        place = f"inbound_replies:{row['inbound_id']}"
        keyring = self._keys() if opened else None
        return StoredReply(
            inbound_id=row["inbound_id"],
            clinic_id=row["clinic_id"],
            received_at=datetime.fromisoformat(row["received_at"]),
            word=ReplyWord(row["word"]),
            outcome=MatchOutcome(row["outcome"]),
            workflow_id=row["workflow_id"],
            version=row["version"],
            role=RecipientRole(row["role"]) if row["role"] else None,
            signalled=bool(row["signalled"]),
            handled_at=datetime.fromisoformat(row["handled_at"]) if row["handled_at"] else None,
            sender=unseal(keyring, row["sender_sealed"], f"{place}:sender").decode() if keyring else None,
            text=unseal(keyring, row["text_sealed"], f"{place}:text").decode() if keyring else None,
        )


_SELECT = (
    "SELECT inbound_id, clinic_id, sender_sealed, text_sealed, received_at, word, outcome, workflow_id,"
    " version, role, signalled, handled_at FROM inbound_replies"
)
_STAFF_OUTCOMES = (MatchOutcome.UNMATCHED.value, MatchOutcome.AMBIGUOUS.value)


class SqliteReplies(Replies, SqliteFile):
    """The reply store in an SQLite file of one host (`replies.sqlite3`)."""

    PRAGMAS = ("secure_delete = ON",)
    ADDED_COLUMNS: ClassVar[dict[str, dict[str, str]]] = {"inbound_replies": {"handled_at": "TEXT"}}
    SCHEMA = """
        CREATE TABLE IF NOT EXISTS reply_sms (
            key TEXT PRIMARY KEY,
            reply_number TEXT NOT NULL,
            to_digest TEXT NOT NULL,
            workflow_id TEXT NOT NULL,
            version INTEGER NOT NULL,
            role TEXT NOT NULL,
            clinic_id TEXT NOT NULL,
            visit_start TEXT NOT NULL,
            sent_at TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS reply_sms_to ON reply_sms (reply_number, to_digest);
        CREATE TABLE IF NOT EXISTS inbound_replies (
            inbound_id TEXT PRIMARY KEY,
            reply_number TEXT NOT NULL,
            clinic_id TEXT,
            sender_sealed TEXT NOT NULL,
            text_sealed TEXT NOT NULL,
            received_at TEXT NOT NULL,
            word TEXT NOT NULL,
            outcome TEXT NOT NULL,
            workflow_id TEXT,
            version INTEGER,
            role TEXT,
            signalled INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX IF NOT EXISTS inbound_replies_clinic ON inbound_replies (clinic_id, received_at);
    """


class PostgresReplies(Replies, PostgresTable):
    """The reply store in the service's PostgreSQL database (migrations 0011 and 0013)."""
