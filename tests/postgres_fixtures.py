"""PostgreSQL fixtures: one real server per test session (`postgres_server`, started only when a test
asks for it), a fresh, empty database per test (`postgres_url`), and a template with the
service's schema migrated once per session to copy from (`migrated_template`).
See testkit/postgres.py."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from adapters import migrations
from testkit.postgres import PostgresServer


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    with PostgresServer() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """`postgresql://pm@127.0.0.1:PORT/test_<hex>`: created for this test, dropped after it."""
    name = f"test_{uuid.uuid4().hex}"
    url = postgres_server.create_database(name)
    try:
        yield url
    finally:
        postgres_server.drop_database(name)


@pytest.fixture(scope="session")
def migrated_template(postgres_server: PostgresServer) -> str:
    """A database with every migration applied, to copy from (`CREATE DATABASE … TEMPLATE`)."""
    name = "template_migrated"
    migrations.upgrade(postgres_server.create_database(name))
    return name
