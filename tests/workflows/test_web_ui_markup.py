"""What the Temporal Web UI renders as Markdown, read back from the server: a request whose visit
type is a phishing link and a tracking image shows them as text in its static summary and its
current details (issue 24, item 7; the escaping itself: tests/domain/test_markdown.py)."""

from __future__ import annotations

from typing import Any

from temporalio.api.sdk.v1 import WorkflowMetadata

from domain.invitation import InvitationState, InvitationStatus
from domain.markdown import escape_markdown
from tests.domain.test_markdown import PHISH, live_markup
from tests.harness import Harness, eventually
from tests.workflows.test_care_invitation import create, request


async def test_a_phishing_visit_type_is_text_not_a_link_or_image_in_the_summary_and_details(
    harness: Harness,
) -> None:
    async with harness.worker():
        hostile = (await request(harness, first=21, last=60)).model_copy(update={"visit_type": PHISH})
        handle = await create(harness, hostile)

        async def invited() -> tuple[InvitationStatus, Any]:
            status = await handle.query("status", result_type=InvitationStatus)
            return status, await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)

        _, metadata = await eventually(
            invited, lambda s: s[0].state is InvitationState.INVITED and s[1].current_details
        )
        summary = await (await handle.describe()).static_summary()
    details = metadata.current_details
    assert details.startswith("invited: ") and escape_markdown(PHISH) in details
    assert live_markup(details) == [], details
    assert summary is not None and summary.startswith("Care invitation ")
    assert live_markup(summary) == [], summary
