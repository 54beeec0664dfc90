"""A workflow that breaks the determinism rule on purpose: the sandbox guard's positive control."""

from __future__ import annotations

import datetime

from temporalio import workflow


@workflow.defn
class ReadsTheClock:
    @workflow.run
    async def run(self) -> str:
        return datetime.datetime.now(datetime.UTC).isoformat()  # what workflow.now() is for
