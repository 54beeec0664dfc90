"""Who a workflow is about, in full: for the staff member who explicitly asks to see it (the page's
"Visa"), and audited by the door that asks. Everything else shows the masked id only."""

from __future__ import annotations

from pydantic import BaseModel
from temporalio.client import Client
from temporalio.service import RPCError

from adapters.directory import Directory
from application.errors import NotFoundError
from application.workflow_calls import kind_of, not_found
from domain.booking import GroupBooking, VisitBooking
from domain.invitation import CareInvitation


class PatientIdentity(BaseModel):
    patient_id: str
    name: str | None  # None: the patient is no longer in the directory


async def patient_identity(client: Client, directory: Directory, workflow_id: str) -> PatientIdentity:
    """The patient of a reminder or an invitation, read from the input its workflow was started with
    (the first event of its history, decrypted by the client's codec): no query, so it works for an
    ended workflow and without a worker."""
    input_type = kind_of(workflow_id).input_type
    if input_type is GroupBooking:
        raise NotFoundError(f"workflow '{workflow_id}' names no single patient")
    handle = client.get_workflow_handle(workflow_id)
    try:
        async for event in handle.fetch_history_events(page_size=1):
            payloads = event.workflow_execution_started_event_attributes.input.payloads
            [started] = await client.data_converter.decode(payloads, [input_type])
            break
        else:
            raise NotFoundError(f"no workflow '{workflow_id}'")
    except RPCError as err:
        raise not_found(err, workflow_id) from None
    assert isinstance(started, VisitBooking | CareInvitation)
    patient = directory.patient(started.patient_id)
    name = f"{patient.given_name} {patient.family_name}" if patient else None
    return PatientIdentity(patient_id=started.patient_id, name=name)
