"""The staff page's server-side sessions on both backends: found by the cookie's id only while live,
stored hashed, ended at once for every process that shares the store (another replica)."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import psycopg

from tests.adapters.conftest import Backend

HOURS = timedelta(hours=10)
SARA = {"user": {"user_id": "demo-sara", "name": "Sara", "clinics": ["kir"]}, "csrf": "c1"}


def stored_text(backend: Backend) -> str:
    """Every value of the sessions table, as one string (what a database read would give)."""
    if backend.settings.database_url:
        with psycopg.connect(backend.settings.database_url) as conn:
            found = conn.execute("SELECT * FROM staff_sessions").fetchall()
    else:
        with sqlite3.connect(backend.settings.data_dir / "staff-sessions.sqlite3") as conn:
            found = conn.execute("SELECT * FROM staff_sessions").fetchall()
    return " ".join(str(v) for row in found for v in row)


def test_a_session_is_found_by_its_id_on_every_replica_until_deleted(backend: Backend) -> None:
    here, replica = backend.stores().staff_sessions, backend.stores().staff_sessions
    session_id = here.create(SARA, "demo-sara", HOURS)
    assert replica.find(session_id) == SARA and here.find(session_id + "x") is None
    assert session_id not in stored_text(backend) and "demo-sara" in stored_text(backend)  # only its hash
    assert replica.update(session_id, SARA | {"flash": "klart"})
    assert here.find(session_id) == SARA | {"flash": "klart"}
    here.delete(session_id)
    assert replica.find(session_id) is None and here.find(session_id) is None
    assert not replica.update(session_id, SARA)  # a late write of another replica does not revive it
    assert here.find(session_id) is None


def test_an_expired_session_is_not_found_and_is_removed_later(backend: Backend) -> None:
    sessions = backend.stores().staff_sessions
    expired = sessions.create(SARA, "demo-sara", timedelta(seconds=-1))
    assert sessions.find(expired) is None and not sessions.update(expired, SARA)
    live = sessions.create({"csrf": "c2"}, None, HOURS)  # making one removes the expired ones
    assert sessions.find(live) == {"csrf": "c2"} and "demo-sara" not in stored_text(backend)


def test_revoking_a_user_ends_all_their_sessions_and_no_one_elses(backend: Backend) -> None:
    sessions = backend.stores().staff_sessions
    first, second = (sessions.create(SARA, "demo-sara", HOURS) for _ in range(2))
    olle = sessions.create({"user": {"user_id": "demo-olle"}}, "demo-olle", HOURS)
    assert backend.stores().staff_sessions.revoke_user("demo-sara") == 2
    assert sessions.find(first) is None and sessions.find(second) is None
    assert sessions.find(olle) is not None and sessions.revoke_user("demo-sara") == 0
