"""The worker's settings: the SMS provider's rate becomes a task-queue activity rate limit (storm)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pydantic import ValidationError
from temporalio.testing import WorkflowEnvironment

from infrastructure.config import Settings
from infrastructure.stores import Stores
from infrastructure.worker_setup import (
    MAX_CONCURRENT_ACTIVITIES,
    activities_for,
    build_worker,
)


def test_sms_rate_limit_is_read_from_the_environment_and_must_be_positive(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings.from_env().sms_rate_limit is None
    monkeypatch.setenv("PM_SMS_RATE_LIMIT", "50")
    assert Settings.from_env().sms_rate_limit == 50.0
    monkeypatch.setenv("PM_SMS_RATE_LIMIT", "0")
    with pytest.raises(ValidationError, match="sms_rate_limit"):
        Settings.from_env()


@pytest.mark.parametrize("rate", [None, 50.0])
async def test_build_worker_passes_the_rate_and_cache_to_the_task_queue(
    env: WorkflowEnvironment, tmp_path: Path, rate: float | None
) -> None:
    settings = Settings(data_dir=tmp_path)
    with ThreadPoolExecutor(max_workers=MAX_CONCURRENT_ACTIVITIES) as executor:
        worker = build_worker(
            env.client,
            "q",
            activities_for(settings, Stores(settings)),
            executor,
            max_cached_workflows=123,
            activities_per_second=rate,
        )
        async with worker:  # runs against the server (and lets its start-up checks finish)
            config = worker.config()
    assert config.get("max_task_queue_activities_per_second") == rate
    assert config.get("max_cached_workflows") == 123
