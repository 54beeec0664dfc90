"""Safe change: the current workflow code must replay the saved histories of every workflow type, in the
sandbox (as the workflow tests run) and unsandboxed (as production runs, `worker_setup.workflow_runner`).

A change that breaks this would break running workflows: guard it with `workflow.patched` (see
docs/changing-workflows.md) instead of re-recording the histories.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from infrastructure.worker_setup import WORKFLOWS, workflow_runner
from tests.histories.names import BRANCHES, patches_taken, workflow_type

HISTORIES = sorted((Path(__file__).parent.parent / "histories").glob("*.json"))


def test_every_workflow_type_has_a_saved_history() -> None:
    starts = [WorkflowHistory.from_json(p.stem, p.read_text()).events[0] for p in HISTORIES]
    names = {e.workflow_execution_started_event_attributes.workflow_type.name for e in starts}
    assert names == {w.__name__ for w in WORKFLOWS}


def test_every_history_is_named_after_its_type_and_the_patches_it_took() -> None:
    """`<type>-<scenario>[-<branch>…].json` (tests/histories/names.py), so a file says what it replays."""
    for path in HISTORIES:
        history = WorkflowHistory.from_json(path.stem, path.read_text())
        tags = [BRANCHES[p] for p in patches_taken(history)]
        assert path.stem.startswith(f"{workflow_type(history)}-"), path.name
        taken = "-".join(["", *tags])  # a child under a scoped id adds `-scoped` (its parent's patch)
        assert path.stem.endswith(taken) or path.stem.endswith(f"{taken}-scoped"), path.name


@pytest.mark.parametrize("sandboxed", [True, False], ids=["sandboxed", "unsandboxed"])
@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_current_code_replays_saved_history(path: Path, sandboxed: bool) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    runner = workflow_runner(sandboxed)
    replayer = Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter, workflow_runner=runner)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"
