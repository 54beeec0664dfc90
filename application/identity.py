"""Who a workflow is about, in full: for the staff member who explicitly asks to see it (the page's
"Visa"), and audited by the door that asks. Everything else shows the masked id only."""

from __future__ import annotations

from pydantic import BaseModel
from temporalio.client import Client

from adapters.directory import Directory
from application.errors import NotFoundError
from application.lookup import started_input
from application.targets import Target, locate
from application.workflow_calls import kind_of
from domain.booking import GroupBooking, VisitBooking
from domain.invitation import CareInvitation


class PatientIdentity(BaseModel):
    patient_id: str
    name: str | None  # None: the patient is no longer in the directory


async def patient_identity(client: Client, directory: Directory, target: Target) -> PatientIdentity:
    """The patient of a reminder or an invitation, read from the input its workflow was started with
    (the first event of its history, decrypted by the client's codec): no query, so it works for an
    ended workflow and without a worker."""
    workflow_id = (await locate(client, target)).workflow_id
    if kind_of(workflow_id).input_type is GroupBooking:
        raise NotFoundError(f"workflow '{workflow_id}' names no single patient")
    started = await started_input(client, workflow_id)
    assert isinstance(started, VisitBooking | CareInvitation)
    patient = directory.patient(started.patient_id)
    name = f"{patient.given_name} {patient.family_name}" if patient else None
    return PatientIdentity(patient_id=started.patient_id, name=name)
