"""Test support that bench/ and tests/ share: local fakes on 127.0.0.1 (`fake_http`), the dev server and
the real worker as child processes (`processes`, `real_worker`), bounded waits (`waiting`), the fake
population (`population`), the rig of server + worker + directory + client (`rig`) and the kill -9
phase with its exactly-once checks of the outbox (`kill_phase`, `outbox_checks`).

Everything here runs on loopback only, is bounded in time and count, stops its children by their own
pid, and imports neither `bench` nor `tests` (tests/test_layers.py).
"""
