"""The SMS a reminder records (S15: one per recipient and visit version) and the provider's delivery
reports on them (docs/delivery-reports.md), also a report that overtakes its send's result."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from contracts.activities import SendResult
    from contracts.workflow_ids import parse_sms_key, sms_key
    from domain.status import (
        Delivery,
        DeliveryReport,
        MessageChannel,
        MessageKind,
        MessageRecord,
        Outcome,
        Reason,
        RecipientRole,
        later_report,
        reported_sms,
    )
    from workflows.mechanics import record_delivery, record_message


class SmsMessages:
    """The records the `status` query shows, and the reports kept for a send still under way."""

    def __init__(self) -> None:
        self.records: list[MessageRecord] = []
        self._sending: int | None = None  # the visit version whose SMS are being sent
        self._early: dict[str, DeliveryReport] = {}  # reports that overtook their send's result

    def sending(self, version: int | None) -> None:
        """The version being sent, or None when its send is over (its early reports are used)."""
        self._sending = version
        if version is None:
            self._early.clear()

    def record(
        self,
        role: RecipientRole,
        version: int,
        outcome: Outcome,
        to: str | None = None,
        reason: Reason | None = None,
        delivery: Delivery | None = None,
    ) -> None:
        record = MessageRecord(
            kind=MessageKind.SMS_REMINDER,
            channel=MessageChannel.SMS,
            recipient=role,
            to=to,
            at=workflow.now(),
            outcome=outcome,
            reason=reason,
            visit_version=version,
            delivery=delivery,
        )
        record_message(self.records, record)
        early = self._early.pop(sms_key(workflow.info().workflow_id, version, role), None)
        if early is not None and outcome is Outcome.SENT:
            record_delivery(record, early)

    def record_result(self, role: RecipientRole, version: int, result: SendResult) -> None:
        """A send's result; a sent SMS whose provider reports delivery starts as `pending`."""
        pending = result.outcome is Outcome.SENT and result.delivery_pending
        delivery = Delivery.PENDING if pending else None
        self.record(role, version, result.outcome, to=result.to, reason=result.reason, delivery=delivery)

    def report(self, report: DeliveryReport) -> bool:
        """Apply a delivery report (forward only, `later_delivery`); True if a message changed. A
        report for another workflow, or a version and role without a sent SMS, changes nothing."""
        key = parse_sms_key(report.key)
        if key is None or key.workflow_id != workflow.info().workflow_id:
            workflow.logger.warning(
                "delivery report for another reminder: ignored", extra={"key": report.key}
            )
            return False
        sent = reported_sms(self.records, key.version, key.role)
        if sent is None and key.version == self._sending:
            # The report overtook its send's result (a workflow task handles signals before activity
            # results): keep it for `record`.
            self._early[report.key] = later_report(self._early.get(report.key), report)
            return False
        if not sent:
            workflow.logger.warning("delivery report for no sent SMS: ignored", extra={"key": report.key})
            return False
        return any([record_delivery(m, report) for m in sent])
