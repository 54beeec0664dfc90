"""The worker's settings: the SMS provider's rate (kept by the gateway, storm), the wave settings, the
cache and the runner."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import (
    PollerBehaviorAutoscaling,
    PollerBehaviorSimpleMaximum,
    UnsandboxedWorkflowRunner,
)
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

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


def test_the_workflow_sandbox_is_off_unless_the_environment_turns_it_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings.from_env().workflow_sandbox is False
    monkeypatch.setenv("PM_WORKFLOW_SANDBOX", "1")
    assert Settings.from_env().workflow_sandbox is True
    monkeypatch.setenv("PM_WORKFLOW_SANDBOX", "sometimes")
    with pytest.raises(ValidationError, match="workflow_sandbox"):
        Settings.from_env()


def test_the_wave_settings_are_the_sdk_defaults_unless_the_environment_sets_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = Settings.from_env()
    assert (settings.sticky_timeout, settings.poller_autoscaling) == (10, False)
    monkeypatch.setenv("PM_STICKY_TIMEOUT", "120")
    monkeypatch.setenv("PM_POLLER_AUTOSCALING", "1")
    settings = Settings.from_env()
    assert (settings.sticky_timeout, settings.poller_autoscaling) == (120, True)
    monkeypatch.setenv("PM_STICKY_TIMEOUT", "0")
    with pytest.raises(ValidationError, match="sticky_timeout"):
        Settings.from_env()


async def test_build_worker_passes_the_wave_settings_to_the_worker(
    env: WorkflowEnvironment, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path)
    with ThreadPoolExecutor(max_workers=MAX_CONCURRENT_ACTIVITIES) as executor:
        options = {"max_cached_workflows": 10, "sandboxed": False, "sticky_timeout": timedelta(seconds=120)}
        activities = activities_for(settings, Stores(settings))
        plain = build_worker(env.client, "plain", activities, executor, **options).config()
        wave = build_worker(
            env.client, "wave", activities, executor, **options, poller_autoscaling=True
        ).config()
    assert plain.get("sticky_queue_schedule_to_start_timeout") == timedelta(seconds=120)
    assert isinstance(plain.get("workflow_task_poller_behavior"), PollerBehaviorSimpleMaximum)
    assert isinstance(wave.get("workflow_task_poller_behavior"), PollerBehaviorAutoscaling)


@pytest.mark.parametrize("sandboxed", [False, True])
async def test_build_worker_passes_the_cache_and_runner_to_the_worker(
    env: WorkflowEnvironment, tmp_path: Path, sandboxed: bool
) -> None:
    settings = Settings(data_dir=tmp_path)
    with ThreadPoolExecutor(max_workers=MAX_CONCURRENT_ACTIVITIES) as executor:
        worker = build_worker(
            env.client,
            "q",
            activities_for(settings, Stores(settings)),
            executor,
            max_cached_workflows=123,
            sandboxed=sandboxed,
        )
        async with worker:  # runs against the server (and lets its start-up checks finish)
            config = worker.config()
    assert config.get("max_task_queue_activities_per_second") is None  # the gateway keeps the rate
    assert config.get("max_cached_workflows") == 123
    runner = SandboxedWorkflowRunner if sandboxed else UnsandboxedWorkflowRunner
    assert type(config.get("workflow_runner")) is runner


def test_the_sms_history_wait_and_clock_margin_are_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 29: seconds, defaults 300 and 900; negative refused, naming the setting."""
    settings = Settings.from_env()
    assert (settings.sms_history_wait, settings.sms_clock_margin) == (300, 900)
    monkeypatch.setenv("PM_SMS_HISTORY_WAIT", "20")
    monkeypatch.setenv("PM_SMS_CLOCK_MARGIN", "0")
    settings = Settings.from_env()
    assert (settings.sms_history_wait, settings.sms_clock_margin) == (20, 0)
    monkeypatch.setenv("PM_SMS_HISTORY_WAIT", "-1")
    with pytest.raises(ValidationError, match="sms_history_wait"):
        Settings.from_env()
