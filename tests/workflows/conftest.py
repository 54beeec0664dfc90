"""Fixtures of the workflow tests: the demo directory and a harness on the time-skipping server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from demo import data as fx
from tests.harness import Harness


@pytest.fixture
def document() -> dict[str, Any]:
    """A fresh demo directory document; a test may change it before or after the harness loads it."""
    return fx.demo_document()


@pytest.fixture
def harness(env: WorkflowEnvironment, tmp_path: Path, document: dict[str, Any]) -> Harness:
    return Harness(env, tmp_path, document)
