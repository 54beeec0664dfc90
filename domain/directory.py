"""Clinics, receptions, patients, guardians and SMS consents: the directory document of SPEC §5."""

from __future__ import annotations

import re
from datetime import datetime, time
from typing import Literal

from pydantic import Field, field_validator, model_validator

from domain.invitation_routing import RoutingPlan
from domain.types import ClockTime, ContractModel, MobileNumber, Moment, PatientIdStr, SystemId

HSA_ID_PATTERN = r"^SE[0-9]{10}-[A-Za-z0-9]{1,18}$"
REPLY_NUMBER = re.compile(r"\+46[1-9][0-9]{6,11}")
"""A Swedish number in E.164 (`+46`, no leading 0): a clinic's virtual number for replies (issue 28)."""
"""An HSA-id (Inera's catalogue of units and staff): `SE`, the organisation number, `-`, an id."""


class Reception(ContractModel):
    """A mottagning. S1: `sms_enabled`; S2: `minor_age_limit`; S16: `display_name`; `hsa_id`: its
    unit in the HSA catalogue (FHIR Appointments name the reception by it)."""

    reception_id: SystemId
    name: str = Field(min_length=1)
    display_name: str | None = None
    hsa_id: str | None = Field(default=None, pattern=HSA_ID_PATTERN)
    sms_enabled: bool = False
    minor_age_limit: int = Field(default=18, ge=1, le=25)

    @property
    def sms_name(self) -> str:
        """The name an SMS shows (S16: a display name can hide a sensitive speciality)."""
        return self.display_name or self.name


class SmsTiming(ContractModel):
    """A clinic's S6 settings: days before, send time and sending window (Stockholm wall clock)."""

    sms_days_before: int = Field(default=1, ge=0, le=14)
    sms_send_time: ClockTime = time(9, 0)
    sms_window_start: ClockTime = time(8, 0)
    sms_window_end: ClockTime = time(20, 0)

    @model_validator(mode="after")
    def _window_is_ordered(self) -> SmsTiming:
        if self.sms_window_start >= self.sms_window_end:
            raise ValueError("sms_window_start must be before sms_window_end")
        return self


class Clinic(SmsTiming):
    """A klinik. S14: `sms_connected`; S6: days before, send time and sending window (`SmsTiming`);
    issue 28: `reply_number`, the virtual number that sends its reminders and takes the replies."""

    clinic_id: SystemId
    name: str = Field(min_length=1)
    phone: str | None = None
    sms_connected: bool = False
    invitation_send_time: ClockTime = time(8, 0)
    routing: RoutingPlan | None = Field(
        default=None,
        description="how an invitation finds the patient (issue 27); none: V5 (1177, else a letter)",
    )
    receptions: list[Reception] = Field(default_factory=list)
    reply_number: str | None = Field(
        default=None,
        description="issue 28: the clinic's virtual number (E.164, +46…) its reminders are sent from, "
        "so the patient can answer AVBOKA or STOPP; none: no replies, the sender is a name",
    )

    @field_validator("reply_number")
    @classmethod
    def _reply_number_is_swedish_e164(cls, value: str | None) -> str | None:
        if value is not None and not REPLY_NUMBER.fullmatch(value):
            raise ValueError("reply_number must be a Swedish number in E.164, e.g. +46766861234")
        return value

    @model_validator(mode="after")
    def _receptions_are_unique(self) -> Clinic:
        ids = [r.reception_id for r in self.receptions]
        if len(ids) != len(set(ids)):
            raise ValueError("reception_id must be unique within a clinic")
        return self

    def reception(self, reception_id: str) -> Reception | None:
        return next((r for r in self.receptions if r.reception_id == reception_id), None)

    @property
    def sms_timing(self) -> SmsTiming:
        """Its S6 settings alone (what a booking hands its reminder)."""
        return SmsTiming.model_validate(self.model_dump(include=set(SmsTiming.model_fields)))


class Guardian(ContractModel):
    """Närstående 1 or 2 of a patient (S4)."""

    rank: Literal[1, 2]
    name: str = Field(min_length=1)
    mobile: MobileNumber | None = None


class SmsConsent(ContractModel):
    """Medgivande SMS-påminnelse (S9): from VAS for one clinic, or from 1177 for all clinics; source
    `sms` is the patient's own answer to a reminder of one clinic (issue 28: "STOPP" records one given
    and withdrawn at the moment of the reply, which stops every earlier consent for that clinic:
    `domain.recipients.has_consent`)."""

    clinic_id: SystemId | None = None
    source: Literal["VAS", "1177", "sms"]
    given_at: Moment
    withdrawn_at: Moment | None = None

    @model_validator(mode="after")
    def _scope_matches_source(self) -> SmsConsent:
        if self.source == "VAS" and self.clinic_id is None:
            raise ValueError("a consent registered in VAS needs the clinic_id it was registered by")
        if self.source == "sms" and self.clinic_id is None:
            raise ValueError("a consent answered by SMS needs the clinic_id of the reminder answered")
        if self.source == "1177" and self.clinic_id is not None:
            raise ValueError("a consent given in 1177 holds for all clinics: clinic_id must be null")
        if self.withdrawn_at is not None and self.withdrawn_at < self.given_at:
            raise ValueError("withdrawn_at is before given_at")
        return self

    def covers(self, clinic_id: str, at: datetime) -> bool:
        """True when this consent is in force for `clinic_id` at the moment `at`."""
        in_scope = self.clinic_id is None or self.clinic_id == clinic_id
        withdrawn = self.withdrawn_at is not None and self.withdrawn_at <= at
        return in_scope and self.given_at <= at and not withdrawn

    def stops(self, clinic_id: str, at: datetime) -> datetime | None:
        """Issue 28: when this is a withdrawal by SMS ("STOPP") for `clinic_id` in force at `at`, its
        moment (every consent for the clinic given before it is stopped), else None."""
        if self.source != "sms" or self.clinic_id != clinic_id or self.withdrawn_at is None:
            return None
        return self.withdrawn_at if self.withdrawn_at <= at else None


class PostalAddress(ContractModel):
    street: str = Field(min_length=1)
    postal_code: str = Field(pattern=r"^\d{3} ?\d{2}$")
    city: str = Field(min_length=1)
    care_of: str | None = None


class Patient(ContractModel):
    """A patient with contact details, guardians and consent history."""

    patient_id: PatientIdStr
    given_name: str = Field(min_length=1)
    family_name: str = Field(min_length=1)
    mobile: MobileNumber | None = None
    uses_1177: bool = False
    protected_identity: bool = False  # skyddade personuppgifter: no SMS notice, no digital mailbox
    postal_address: PostalAddress | None = None
    guardians: list[Guardian] = Field(default_factory=list, max_length=2)
    sms_consents: list[SmsConsent] = Field(default_factory=list)

    @model_validator(mode="after")
    def _guardian_ranks_unique(self) -> Patient:
        ranks = [g.rank for g in self.guardians]
        if len(ranks) != len(set(ranks)):
            raise ValueError("guardians must have different ranks (1 and 2)")
        return self

    def guardian(self, rank: int) -> Guardian | None:
        return next((g for g in self.guardians if g.rank == rank), None)


class DirectoryDocument(ContractModel):
    """The JSON document the embedded directory is loaded from (SPEC §5)."""

    clinics: list[Clinic] = Field(default_factory=list)
    patients: list[Patient] = Field(default_factory=list)

    @model_validator(mode="after")
    def _reply_numbers_are_unique(self) -> DirectoryDocument:
        numbers = [c.reply_number for c in self.clinics if c.reply_number]
        if len(numbers) != len(set(numbers)):
            raise ValueError("reply_number must be unique: a reply must find one clinic (issue 28)")
        return self
