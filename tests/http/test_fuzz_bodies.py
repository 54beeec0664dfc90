"""Property-based fuzzing (hypothesis) of every body of the HTTP API, on one real uvicorn server for
the whole module: arbitrary JSON, JSON shaped like each body (its keys with random values; a valid
body with fields dropped, of a wrong type, extra, huge or personnummer-like), bytes that are not
JSON, random FHIR resources and random delivery-report forms.

Every answer is below 500. A body that is not valid per its model is a 4xx: `application/problem+json`
on /v1 and /callbacks, an `OperationOutcome` (`application/fhir+json`) on /fhir; a 2xx comes only for
a body valid per its model (on /v1 the strict variant of the contract model, `entrypoints.strict`:
no unknown field, flags JSON booleans). No refusal repeats a personnummer-like string of the body
(S16), and no workflow named by a refused body exists afterwards (checked once at the end of each
test).

Examples are drawn in sync tests and run on the module's server through the session event loop of
pytest-asyncio (idle between tests, so `run_until_complete` drives the client and the worker).
"""

from __future__ import annotations

import asyncio
import copy
import email.message
import itertools
import json
import re
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, TypeVar
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

import httpx
import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

import application as app
from adapters.directory_document import validate_document
from adapters.sms import SmsReceipt
from adapters.sms_elks import delivery_token
from contracts.workflow_ids import (
    booking_reminder_id,
    group_booking_id,
    invitation_id,
    reminder_id,
    team_reminder_id,
)
from demo import data as fx
from domain.booking import GroupBooking, VisitBooking
from domain.directory import DirectoryDocument
from domain.invitation import CareInvitation, Contact, Conversion, RequestChange
from domain.invitation_offer import RequestBooking
from entrypoints.http.delivery_reports import PROVIDER_ID
from entrypoints.http.fhir_mapping import (
    CHANNEL_EXTENSION,
    HSA_ID,
    PERSONNUMMER,
    SAMORDNINGSNUMMER,
    SMS_EXTENSION,
    map_appointment,
    parse_appointment,
)
from entrypoints.http.visits import CancelRequest, FlagChange, GroupCancel, StartChange
from entrypoints.strict import strict
from tests.harness import eventually
from tests.http.conftest import Api, request_fields, running_api
from tests.http.test_fhir import (
    HSA_GENERAL,
    HSA_HIDDEN,
    HSA_ONH,
    HSA_PRACTITIONER,
    HSA_UNKNOWN,
    appointment,
    directory_with_hsa_ids,
)

T = TypeVar("T")
STOCKHOLM = ZoneInfo("Europe/Stockholm")
PROBLEM = "application/problem+json"
FHIR_JSON = "application/fhir+json"
CALLBACK = "/callbacks/sms/46elks"
DLR_SECRET = "dlr-fuzz-" + uuid.uuid4().hex
FUZZ: dict[str, Any] = {
    "deadline": None,
    "database": None,
    "suppress_health_check": [
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
        HealthCheck.nested_given,
    ],
}
"""Per test `max_examples`; derandomized by the repository's default profile (tests/conftest.py)."""


# --- one server for the module -----------------------------------------------------------------


@dataclass
class Server:
    api: Api
    loop: asyncio.AbstractEventLoop
    counter: Iterator[int] = field(default_factory=itertools.count)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the server's loop (the session loop, idle while a sync test runs)."""
        return self.loop.run_until_complete(coro)

    def fresh(self) -> str:
        """An id no earlier example used (hypothesis replays examples when it shrinks)."""
        return f"fz{next(self.counter)}"


@pytest_asyncio.fixture(scope="module")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    """The API (with delivery reports on) and the demo directory with HSA-ids, for every example."""
    async with running_api(tmp_path_factory.mktemp("fuzz"), delivery_secret=DLR_SECRET) as api:
        loaded = await api.put("/v1/directory", directory_with_hsa_ids(), token=api.all_token)
        assert loaded.status_code == 200, loaded.text
        yield Server(api, asyncio.get_running_loop())


@dataclass
class Ledger:
    """Workflow ids named by the bodies of one test: those of refused calls must not exist at the end."""

    refused: set[str] = field(default_factory=set)
    accepted: set[str] = field(default_factory=set)

    def note(self, workflow_ids: Iterable[str], accepted: bool) -> None:
        (self.accepted if accepted else self.refused).update(workflow_ids)


def assert_nothing_started(server: Server, ledger: Ledger) -> None:
    async def existing() -> list[str]:
        names = sorted(ledger.refused - ledger.accepted)
        found: list[str] = []
        for start in range(0, len(names), 64):
            chunk = names[start : start + 64]
            client = server.api.harness.client
            flags = await asyncio.gather(*(app.exists(client, name) for name in chunk))
            found += [name for name, flag in zip(chunk, flags, strict=True) if flag]
        return found

    assert ledger.refused, "the test named no workflow"
    assert server.run(existing()) == []


# --- bodies ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Body:
    content: bytes
    content_type: str | None

    def __repr__(self) -> str:
        shown = self.content if len(self.content) <= 400 else self.content[:400] + b"..."
        return f"Body({shown!r}, {self.content_type!r}, {len(self.content)} bytes)"


def as_json(value: Any, content_type: str = "application/json", ascii_only: bool = False) -> Body:
    """JSON text in UTF-8 (a lone surrogate stays a lone surrogate: invalid UTF-8) or escaped ASCII."""
    return Body(json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass"), content_type)


def json_bodies(
    values: st.SearchStrategy[Any], types: tuple[str, ...] = ("application/json",)
) -> st.SearchStrategy[Body]:
    return st.builds(as_json, values, st.sampled_from(types), st.booleans())


NOT_JSON = object()


def decoded_v1(body: Body) -> Any:
    """The JSON a /v1 route reads from the body (FastAPI: a JSON media type, then `json.loads`)."""
    if body.content_type is None:
        return NOT_JSON
    message = email.message.Message()
    message["content-type"] = body.content_type
    subtype = message.get_content_subtype()
    if message.get_content_maintype() != "application" or not (
        subtype == "json" or subtype.endswith("+json")
    ):
        return NOT_JSON
    try:
        return json.loads(body.content)
    except (ValueError, RecursionError):
        return NOT_JSON


def valid_per(model: type[BaseModel], value: Any) -> bool:
    """Valid per the route's body: the strict variant of its model (no unknown field, JSON booleans)."""
    try:
        strict(model).model_validate(value)
    except ValidationError:
        return False
    return True


def ahead(days: int) -> str:
    moment = datetime.now(UTC).astimezone(STOCKHOLM) + timedelta(days=days)
    return moment.replace(hour=10, minute=0, second=0, microsecond=0).isoformat()


def window() -> dict[str, str]:
    today = datetime.now(STOCKHOLM).date()
    return {
        "first_date": (today + timedelta(days=20)).isoformat(),
        "last_date": (today + timedelta(days=40)).isoformat(),
    }


# Personnummer-like strings: 10 or 12 digits with `-`, `+`, a space or nothing before the last four
# (valid or not), and reservnummer-like ones; found in any string of a body, keys included.
PATIENT_LIKE = re.compile(r"(?<![0-9])(?:[0-9]{8}[-+ ]?[0-9A-Z]{4}|[0-9]{6}[-+ ]?[0-9]{4})(?![0-9])")
DEMO_PATIENTS = (
    fx.PNR_ADULT_1177,
    fx.PNR_ADULT_VAS,
    fx.PNR_CHILD,
    fx.RESERVNUMMER_CHILD,
    fx.PNR_ADULT_NO_MOBILE,
    fx.PNR_ADULT_WITHDRAWN,
)
SYSTEM_ID_KEYS = frozenset(
    {
        "booking_id",
        "clinic_id",
        "reception_id",
        "team_visit_id",
        "series_id",
        "group_booking_id",
        "request_id",
        "referral_id",
    }
)
"""Fields that are system ids by contract (SPEC §5): a booking id may be echoed, whatever it looks like."""


@st.composite
def patient_like(draw: st.DrawFn) -> str:
    if draw(st.integers(0, 4)) == 0:
        return draw(st.sampled_from(DEMO_PATIENTS))
    born = draw(st.dates(date(1890, 1, 1), date(2026, 12, 31)))
    day = born.day + draw(st.sampled_from((0, 0, 60)))  # samordningsnummer: day + 60
    number = fx.luhn_pnr(f"{born:%Y%m}{day:02d}", f"{draw(st.integers(0, 999)):03d}")
    if draw(st.booleans()):  # a wrong check digit
        number = number[:-1] + str((int(number[-1]) + 1) % 10)
    head, tail = number[:8], number[9:]
    if draw(st.booleans()):
        head = head[2:]
    return head + draw(st.sampled_from(("-", "", "+", " "))) + tail


def secrets_of(value: Any, key: str | None = None) -> set[str]:
    """The personnummer-like strings of a JSON value (keys too), outside the system-id fields."""
    if isinstance(value, dict):
        found: set[str] = set()
        for k, v in value.items():
            found |= secrets_of(k) | secrets_of(v, k if isinstance(k, str) else None)
        return found
    if isinstance(value, list):
        return set().union(*(secrets_of(v, key) for v in value))
    if isinstance(value, str) and key not in SYSTEM_ID_KEYS:
        return set(PATIENT_LIKE.findall(value))
    return set()


def system_ids_of(value: Any) -> set[str]:
    """The strings in the system-id fields of a JSON value."""
    found: set[str] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            found |= {v} if k in SYSTEM_ID_KEYS and isinstance(v, str) else system_ids_of(v)
    elif isinstance(value, list):
        found = set().union(*(system_ids_of(v) for v in value))
    return found


def patient_data_of(value: Any) -> set[str]:
    """The personnummer-like strings the answer must not repeat: those of the value, except any that
    is also sent as a system id (that one the answer may name, e.g. in a workflow id)."""
    named = system_ids_of(value)
    return {s for s in secrets_of(value) if not any(s in n for n in named)}


def secrets_of_body(body: Body) -> set[str]:
    try:
        return patient_data_of(json.loads(body.content))
    except (ValueError, RecursionError):
        return set(PATIENT_LIKE.findall(body.content.decode("utf-8", "replace")))


FIELD_NAMES = (
    "booking_id",
    "patient_id",
    "clinic_id",
    "reception_id",
    "start",
    "channel",
    "sms_flag",
    "smsflag",  # an unknown field: refused at the strict edge
    "invitation",
    "team_visit_id",
    "participants",
    "request_id",
    "window",
    "first_date",
    "reason",
    "by",
    "note",
    "resourceType",
    "status",
    "participant",
    "clinics",
    "patients",
)
texts = st.one_of(st.text(max_size=12), patient_like())
keys = st.one_of(st.text(max_size=10), patient_like(), st.sampled_from(FIELD_NAMES))
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    texts,
)
json_values = st.recursive(
    leaves,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=12,
)
EDGE_TIMES = (
    "9999-12-31T23:59:59+00:00",
    "9999-12-31T23:30:00+01:00",
    "9999-12-31T23:59:59-23:59",
    "0001-01-01T00:00:00+23:59",
    "0001-01-01T00:00:00Z",
    "2031-01-01T10:00:00",
    "2031-02-30T10:00:00+01:00",
    "2031-01-01T24:00:00+01:00",
    "2031-01-01T10:00:00+25:00",
    "2031-01-01",
    "9999-12-31",
    "0001-01-01",
    "now",
    "",
)
wrong_values = st.one_of(
    st.sampled_from(
        (
            None,
            True,
            False,
            0,
            1,
            -1,
            2**63,
            10**30,
            1.5,
            -0.0,
            253402300799,
            "",
            " ",
            "null",
            "\ud800",
            "x\x00",
            "true",  # what a lax boolean would read as a flag: refused at the strict edge
            "false",
            "0",
            "off",
        )
    ),
    st.sampled_from(([], {}, [None], {"": None}, ["mon", "mon"], [{}])),
    st.sampled_from(EDGE_TIMES),
    json_values,
)
TIME_KEYS = frozenset({"start", "end", "valueDateTime", "given_at", "withdrawn_at", "delivered"})
DATE_KEYS = frozenset({"first_date", "last_date"})
EDGE_DATES = ("9999-12-31", "0001-01-01", "2031-02-29", "2032-02-29", "2031-13-01", "20310101", "2031-1-1")
OFFSETS = tuple(timezone(timedelta(minutes=m)) for m in (0, 60, 840, -720, 1439, -1439))
edge_times = st.one_of(
    st.sampled_from(EDGE_TIMES),
    st.datetimes(timezones=st.sampled_from(OFFSETS)).map(datetime.isoformat),
    st.datetimes(min_value=datetime(9999, 12, 30), timezones=st.sampled_from(OFFSETS)).map(
        datetime.isoformat
    ),
)
edge_dates = st.one_of(st.sampled_from(EDGE_DATES), st.dates().map(date.isoformat))
huge_strings = st.builds(
    lambda n, c: c * n, st.sampled_from((81, 201, 501, 5000, 300_000)), st.sampled_from("x9å🙂 ")
)


def spots(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The path of every element (a dict's key, a list's index) of a JSON value."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    found: list[tuple[Any, ...]] = []
    for k, v in items:
        found += [(*path, k), *spots(v, (*path, k))]
    return found


def at(value: Any, path: tuple[Any, ...]) -> Any:
    for k in path:
        value = value[k]
    return value


@st.composite
def mutated(draw: st.DrawFn, valid: dict[str, Any], patient: bool = False) -> Any:
    """`valid` with 1–3 mutations anywhere in it: a field dropped, of a wrong type, an edge value (a
    moment or date at the ends of the calendar, odd offsets), an extra field, a huge string, a
    personnummer-like string (always one when `patient`)."""
    body = copy.deepcopy(valid)
    operations = draw(
        st.lists(
            st.sampled_from(("drop", "wrong", "edge", "edge", "extra", "huge", "patient")),
            min_size=1,
            max_size=3,
        )
    )
    if patient:
        operations.append("patient")
    for operation in operations:
        if operation == "extra":
            dicts = [p for p in [(), *spots(body)] if isinstance(at(body, p), dict)]
            if dicts:
                at(body, draw(st.sampled_from(dicts)))[draw(keys)] = copy.deepcopy(draw(json_values))
            continue
        where = spots(body)
        if not where:
            break
        if operation == "edge":  # an edge value of the field's type, mostly a moment or a date
            where = [p for p in where if p[-1] in TIME_KEYS | DATE_KEYS] or where
        path = draw(st.sampled_from(where))
        parent, last = at(body, path[:-1]), path[-1]
        if operation == "drop":
            del parent[last]
            continue
        new = {"wrong": wrong_values, "huge": huge_strings, "patient": patient_like()}.get(operation)
        if new is None:
            new = edge_times if last in TIME_KEYS else edge_dates if last in DATE_KEYS else wrong_values
        parent[last] = copy.deepcopy(draw(new))  # never a shared constant of the strategy
    if patient and draw(st.booleans()):
        body[draw(patient_like())] = draw(texts)  # a personnummer as a key
    return body


def shaped(valid: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """An object with the body's keys, each left out, kept or given a random value."""
    kept = st.fixed_dictionaries({}, optional={k: st.just(v) for k, v in valid.items()})
    random = st.fixed_dictionaries({}, optional={k: json_values for k in valid})
    return st.builds(lambda a, b: {**a, **b}, kept, random)


JSON_TYPES = ("application/json", "application/json; charset=utf-8", "application/vnd.x+json")
OTHER_TYPES = (None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=zz")
NOT_JSON_BYTES = (
    b"",
    b"{",
    b'{"sms_flag": NaN}',
    b"NaN",
    b"Infinity",
    b"\xff\xfe{}",
    b'{"reason": "\xff"}',
    b"\x00",
    b'{"a": 1} trailing',
    b"{'single': 'quotes'}",
    b'{"note": "\\ud800"}',
    b"--zz\r\nContent-Disposition: form-data\r\n\r\nx\r\n--zz--\r\n",
    b"id=1&status=sent",
)


def raw_bodies(json_types: tuple[str, ...] = JSON_TYPES) -> st.SearchStrategy[Body]:
    """Bytes that are not JSON (or not sent as JSON), with and without a JSON media type."""
    content = st.one_of(
        st.sampled_from(NOT_JSON_BYTES),
        st.builds(lambda n: b"[" * n, st.sampled_from((1000, 100_000))),  # nested too deep
        st.builds(lambda n: b'{"a":' * n, st.sampled_from((1000, 30_000))),
        st.builds(
            lambda n: b'{"start": ' + b"9" * n + b"}", st.sampled_from((4300, 4301, 5000))
        ),  # a huge int
        st.binary(max_size=64),
        st.builds(lambda p, t: f'{{"patient_id": "{p}" {t}'.encode(), patient_like(), st.text(max_size=8)),
        json_values.map(lambda v: json.dumps(v).encode("utf-16")),
    )
    types = st.sampled_from(json_types + OTHER_TYPES)
    return st.builds(Body, content, types)


# --- /v1 ---------------------------------------------------------------------------------------


def visit(x: str) -> dict[str, Any]:
    return {
        "booking_id": x,
        "patient_id": fx.PNR_ADULT_1177,
        "clinic_id": fx.CLINIC_CONNECTED,
        "reception_id": fx.RECEPTION_GENERAL,
        "start": ahead(10),
        "channel": "vas",
        "sms_flag": True,
    }


def group(x: str) -> dict[str, Any]:
    return {
        "group_booking_id": x,
        "clinic_id": fx.CLINIC_CONNECTED,
        "reception_id": fx.RECEPTION_GENERAL,
        "start": ahead(10),
        "sms_flag": True,
        "participants": [
            {"booking_id": f"{x}p1", "patient_id": fx.PNR_ADULT_1177},
            {"booking_id": f"{x}p2", "patient_id": fx.PNR_ADULT_VAS},
        ],
    }


def request(x: str) -> dict[str, Any]:
    return request_fields(
        x,
        datetime.now(STOCKHOLM).date(),
        weekdays=["mon", "thu"],
        time_of_day="morning",
        patient_info={"visit_length": "30 minuter"},
        invitation=True,
    )


def change(x: str) -> dict[str, Any]:
    return {"window": window(), "weekdays": ["wed"], "time_of_day": "afternoon"}


def models_started(model: BaseModel) -> list[str]:
    """The workflows an accepted body starts."""
    if isinstance(model, VisitBooking):
        return [reminder_id(model), booking_reminder_id(model.clinic_id, model.booking_id)]
    if isinstance(model, GroupBooking):
        return [group_booking_id(model.clinic_id, model.group_booking_id)] + [
            booking_reminder_id(model.clinic_id, p.booking_id) for p in model.participants
        ]
    if isinstance(model, CareInvitation):
        return [invitation_id(model.clinic_id, model.request_id)]
    if isinstance(model, RequestBooking):  # of a request of the demo clinic
        return [booking_reminder_id(fx.CLINIC_CONNECTED, model.booking_id)]
    return []


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # `{x}`: the example's fresh id
    model: type[BaseModel]
    valid: Callable[[str], dict[str, Any]]
    named: Callable[[str], list[str]]  # the workflows the example's ids name
    creates: bool = False  # else the path names a workflow that does not exist: a valid body is 404

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def reminder(x: str) -> list[str]:
    return [booking_reminder_id(fx.CLINIC_CONNECTED, x)]


def team(x: str) -> list[str]:
    return [team_reminder_id(fx.CLINIC_CONNECTED, x), booking_reminder_id(fx.CLINIC_CONNECTED, f"{x}h")]


def grouped(x: str) -> list[str]:
    return [group_booking_id(fx.CLINIC_CONNECTED, x)] + [
        booking_reminder_id(fx.CLINIC_CONNECTED, f"{x}{p}") for p in ("p1", "p2")
    ]


def invited(x: str) -> list[str]:
    return [invitation_id(fx.CLINIC_CONNECTED, x), booking_reminder_id(fx.CLINIC_CONNECTED, f"{x}b")]


RESCHEDULE = {"start": ahead(12)}
OFF = {"sms_flag": False}
CANCEL = {"reason": "patienten avbokade"}
V1_ROUTES = (
    Route("POST", "/v1/visits", VisitBooking, visit, reminder, creates=True),
    Route("POST", "/v1/visits", VisitBooking, lambda x: {**visit(f"{x}h"), "team_visit_id": x}, team, True),
    Route("POST", "/v1/visits/{x}/reschedule", StartChange, lambda x: RESCHEDULE, reminder),
    Route("PUT", "/v1/visits/{x}/sms-flag", FlagChange, lambda x: OFF, reminder),
    Route("POST", "/v1/visits/{x}/cancel", CancelRequest, lambda x: CANCEL, reminder),
    Route("POST", "/v1/team-visits/{x}/reschedule", StartChange, lambda x: RESCHEDULE, team),
    Route("PUT", "/v1/team-visits/{x}/bookings/{x}h/sms-flag", FlagChange, lambda x: OFF, team),
    Route("POST", "/v1/team-visits/{x}/bookings/{x}h/cancel", CancelRequest, lambda x: CANCEL, team),
    Route("POST", "/v1/groups", GroupBooking, group, grouped, creates=True),
    Route("POST", "/v1/groups/{x}/reschedule", StartChange, lambda x: RESCHEDULE, grouped),
    Route("PUT", "/v1/groups/{x}/sms-flag", FlagChange, lambda x: OFF, grouped),
    Route(
        "POST", "/v1/groups/{x}/cancel", GroupCancel, lambda x: {**CANCEL, "booking_id": f"{x}p1"}, grouped
    ),
    Route("POST", "/v1/requests", CareInvitation, request, invited, creates=True),
    Route(
        "POST",
        "/v1/requests/{x}/convert",
        Conversion,
        lambda x: {**change(x), "reason": "Ändra begäran – vårdinbjudan", "referral_id": f"ref-{x}"},
        invited,
    ),
    Route("POST", "/v1/requests/{x}/change", RequestChange, change, invited),
    Route(
        "POST",
        "/v1/requests/{x}/booking",
        RequestBooking,
        lambda x: {"booking_id": f"{x}b", "start": ahead(25), "by": "staff"},
        invited,
    ),
    Route("POST", "/v1/requests/{x}/contact", Contact, lambda x: {"note": "ringde"}, invited),
    Route("POST", "/v1/requests/{x}/cancel", CancelRequest, lambda x: CANCEL, invited),
)


CREATING = tuple(r for r in V1_ROUTES if r.creates)


async def send(
    api: Api, method: str, path: str, body: Body, token: str | None = None, timeout: float = 30
) -> httpx.Response:
    headers = api.auth(token)
    if body.content_type is not None:
        headers["content-type"] = body.content_type
    return await call(api, method, path, content=body.content, headers=headers, timeout=timeout)


async def call(api: Api, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """One call; again once on a connection the server closed after an earlier 500 (uvicorn does)."""
    try:
        return await api.http.request(method, path, **kwargs)
    except (httpx.ReadError, httpx.RemoteProtocolError):
        return await api.http.request(method, path, **kwargs)


def check_refusal(response: httpx.Response, fhir: bool = False) -> None:
    """A 4xx answer is a problem+json (/v1, /callbacks) or an OperationOutcome (/fhir)."""
    answer = response.json()
    if fhir:
        assert response.headers["content-type"] == FHIR_JSON, response.text
        assert answer["resourceType"] == "OperationOutcome", response.text
        assert [issue["severity"] for issue in answer["issue"]] == ["error"], response.text
    else:
        assert response.headers["content-type"] == PROBLEM, response.text
        assert answer["status"] == response.status_code and isinstance(answer["detail"], str), response.text


def check_no_echo(response: httpx.Response, secrets: Iterable[str]) -> None:
    """S16: none of the personnummer-like strings sent, nor their digits alone, is in the answer."""
    text = response.text
    for secret in secrets:
        assert secret not in text, f"{secret!r} echoed: {text[:500]}"
        digits = re.sub(r"[-+ ]", "", secret)
        assert digits not in re.sub(r"[-+ ]", "", text), f"{secret!r} echoed: {text[:500]}"


async def exercise_v1(server: Server, route: Route, x: str, body: Body, ledger: Ledger) -> None:
    value = decoded_v1(body)
    valid = value is not NOT_JSON and valid_per(route.model, value)
    response = await send(server.api, route.method, route.path.format(x=x), body)
    code = response.status_code
    assert code < 500, f"{route}: {code} {response.text[:300]}"
    if code < 400:
        assert valid and route.creates and code in (200, 201), f"{route}: {code} for an invalid body"
    elif valid and not route.creates:  # no such workflow (or a huge body)
        assert code in (404, 413), f"{route}: {code} {response.text[:300]}"
    if code >= 400:
        check_refusal(response)
    check_no_echo(response, secrets_of_body(body))
    started = models_started(route.model.model_validate(value)) if valid else []
    ledger.note(route.named(x) + started, accepted=code < 400)


def fuzz_v1(
    server: Server, bodies: Callable[[dict[str, Any]], st.SearchStrategy[Body]], examples: int
) -> None:
    ledger = Ledger()

    @settings(max_examples=examples, **FUZZ)
    @given(route=st.sampled_from(V1_ROUTES + CREATING), data=st.data())  # the routes that start, twice
    def example(route: Route, data: st.DataObject) -> None:
        x = server.fresh()
        body = data.draw(bodies(route.valid(x)), label=f"body of {route}")
        server.run(exercise_v1(server, route, x, body, ledger))

    example()
    assert_nothing_started(server, ledger)


def test_arbitrary_json_bodies_on_every_v1_route_are_4xx_problems_and_start_nothing(server: Server) -> None:
    fuzz_v1(server, lambda valid: json_bodies(st.one_of(json_values, shaped(valid))), examples=150)


def test_mutated_valid_bodies_on_every_v1_route_are_4xx_problems_unless_valid_and_start_nothing(
    server: Server,
) -> None:
    fuzz_v1(server, lambda valid: json_bodies(mutated(valid)), examples=250)


def test_bodies_that_are_not_json_on_every_v1_route_are_4xx_problems_and_start_nothing(
    server: Server,
) -> None:
    fuzz_v1(server, lambda valid: raw_bodies(), examples=80)


def test_S16_no_v1_answer_repeats_a_personnummer_like_string_of_the_body(server: Server) -> None:
    fuzz_v1(server, lambda valid: json_bodies(mutated(valid, patient=True)), examples=120)


EXISTING_ROUTES = tuple(
    r for r in V1_ROUTES if not r.creates and not r.path.endswith(("/cancel", "/contact", "/booking"))
)
"""The routes that change an existing workflow and leave it open (so that every example finds it)."""


async def book_existing(server: Server) -> str:
    """A visit, a team visit, a group and a plain booking request, all under one id; once each answers."""
    api, x = server.api, f"{server.fresh()}e"
    for path, body in (
        ("/v1/visits", visit(x)),
        ("/v1/visits", {**visit(f"{x}h"), "team_visit_id": x}),
        ("/v1/groups", group(x)),
        ("/v1/requests", {**request(x), "invitation": False, "referral_id": None}),
    ):
        created = await api.post(path, body)
        assert created.status_code == 201, created.text
    for path in ("visits", "team-visits", "groups", "requests"):
        answer = await eventually(
            lambda path=path: api.get(f"/v1/{path}/{x}"), lambda r: r.status_code == 200
        )
        assert answer.status_code == 200, answer.text
    return x


async def exercise_existing(server: Server, route: Route, x: str, body: Body) -> None:
    value = decoded_v1(body)
    valid = value is not NOT_JSON and valid_per(route.model, value)
    response = await send(server.api, route.method, route.path.format(x=x), body, timeout=15)
    code = response.status_code
    assert code < 500, f"{route}: {code} {response.text[:300]}"
    if not valid:
        assert code >= 400, f"{route}: {code} for an invalid body"
    if code >= 400:
        check_refusal(response)
    check_no_echo(response, secrets_of_body(body))


def test_random_bodies_on_the_routes_of_existing_workflows_are_never_5xx(server: Server) -> None:
    x = server.run(book_existing(server))

    @settings(max_examples=80, **FUZZ)
    @given(route=st.sampled_from(EXISTING_ROUTES), data=st.data())
    def example(route: Route, data: st.DataObject) -> None:
        valid = route.valid(x)
        bodies = json_bodies(st.one_of(mutated(valid), mutated(valid), shaped(valid)))
        server.run(exercise_existing(server, route, x, data.draw(bodies, label=f"body of {route}")))

    example()


# --- FHIR --------------------------------------------------------------------------------------

FHIR_TYPES = ("application/fhir+json", "application/json", "application/fhir+json; charset=utf-8")
STATUSES = ("booked", "cancelled", "noshow", "entered-in-error", "proposed", "pending", "arrived", "waitlist")
HSA_IDS = (HSA_GENERAL, HSA_HIDDEN, HSA_ONH, HSA_UNKNOWN, HSA_PRACTITIONER, "SE2321000016", "kir-allm")
SYSTEMS = (PERSONNUMMER, SAMORDNINGSNUMMER, HSA_ID, "urn:oid:1.2.752.129.2.1.3.1", "http://x.example")
ACTOR_TYPES = ("Patient", "HealthcareService", "Practitioner", "PractitionerRole", "Location", "Device")
starts = st.one_of(
    st.sampled_from(EDGE_TIMES),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)).map(
        datetime.isoformat
    ),
    texts,
    json_values,
)
identifiers = st.fixed_dictionaries(
    {},
    optional={
        "system": st.one_of(st.sampled_from(SYSTEMS), st.text(max_size=10), json_values),
        "value": st.one_of(
            patient_like(),
            patient_like().map(lambda p: re.sub(r"[^0-9]", "", p)),
            st.sampled_from(HSA_IDS),
            texts,
            json_values,
        ),
    },
)
actors = st.fixed_dictionaries(
    {},
    optional={
        "type": st.one_of(st.sampled_from(ACTOR_TYPES), st.text(max_size=10)),
        "identifier": st.one_of(identifiers, json_values),
        "reference": st.one_of(st.just("Patient/1"), texts),
        "display": texts,
    },
)
participants = st.fixed_dictionaries(
    {"actor": st.one_of(actors, json_values)},
    optional={
        "status": st.one_of(st.sampled_from(("accepted", "declined", "tentative", "needs-action")), texts),
        "required": st.one_of(st.sampled_from(("required", "optional")), json_values),
    },
)
extensions = st.recursive(
    st.fixed_dictionaries(
        {"url": st.one_of(st.sampled_from((CHANNEL_EXTENSION, SMS_EXTENSION, "http://x.example/e")), texts)},
        optional={
            "valueCode": st.one_of(st.sampled_from(("vas", "an27_quick", "1177")), texts),
            "valueBoolean": st.one_of(st.booleans(), json_values),
            "valueString": texts,
            "valueDecimal": st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers()),
            "valueDateTime": starts,
        },
    ),
    lambda inner: st.fixed_dictionaries(
        {"url": st.sampled_from((CHANNEL_EXTENSION, "http://x.example/n"))},
        optional={"extension": st.lists(inner)},
    ),
    max_leaves=4,
)


def fhir_shaped(x: str) -> st.SearchStrategy[dict[str, Any]]:
    """A dict with `resourceType` (mostly Appointment) and random Appointment elements."""
    return st.builds(
        lambda fixed, optional: {**fixed, **optional},
        st.fixed_dictionaries(
            {
                "resourceType": st.sampled_from(
                    ("Appointment",) * 4 + ("Patient", "Bundle", "appointment", "")
                ),
                "id": st.sampled_from((x, x, x, f"{x}-other", "")),
            }
        ),
        st.fixed_dictionaries(
            {},
            optional={
                "status": st.one_of(st.sampled_from(STATUSES), texts, json_values),
                "participant": st.one_of(st.lists(participants, max_size=4), json_values),
                "start": starts,
                "end": starts,
                "extension": st.one_of(st.lists(extensions, max_size=3), json_values),
                "modifierExtension": st.lists(extensions, max_size=1),
                "minutesDuration": st.one_of(st.integers(), json_values),
                "meta": json_values,
                "comment": texts,
                "contained": st.lists(json_values, max_size=2),
            },
        ),
    )


def fhir_bodies(x: str) -> st.SearchStrategy[Body]:
    valid = appointment(x, datetime.fromisoformat(ahead(10)), channel="vas", sms=True)
    as_fhir = json_bodies(st.one_of(json_values, fhir_shaped(x), mutated(valid)), FHIR_TYPES)
    return st.one_of(as_fhir, as_fhir, raw_bodies(FHIR_TYPES))


def fhir_bookable(server: Server, body: Body, x: str) -> bool:
    """Whether the PUT may book (201): an Appointment the mapping accepts, of a bookable visit."""
    media_type = (body.content_type or "").split(";")[0].strip().lower()
    if media_type not in ("application/fhir+json", "application/json"):
        return False
    directory = server.api.stores.directory
    try:
        put = map_appointment(parse_appointment(body.content, x), directory)
        if put.cancels:
            return False  # nothing to cancel: 404
        app.check_visit_booking(directory, put.booking(x))
    except Exception:
        return False
    return True


async def exercise_fhir(server: Server, x: str, body: Body, bookable: bool, ledger: Ledger) -> None:
    response = await send(server.api, "PUT", f"/fhir/Appointment/{x}", body)
    code = response.status_code
    assert code < 500, f"PUT /fhir/Appointment: {code} {response.text[:300]}"
    if code < 400:
        assert bookable and code == 201, f"PUT /fhir/Appointment: {code} for a body that cannot book"
    else:
        check_refusal(response, fhir=True)
        check_no_echo(response, secrets_of_body(body))  # a 201 answers the resource, the patient in it
    ledger.note([booking_reminder_id(fx.CLINIC_CONNECTED, x)], accepted=code < 400)


def test_random_fhir_resources_on_put_appointment_are_operation_outcomes_and_book_nothing(
    server: Server,
) -> None:
    ledger = Ledger()

    @settings(max_examples=200, **FUZZ)
    @given(data=st.data())
    def example(data: st.DataObject) -> None:
        x = server.fresh()
        body = data.draw(fhir_bodies(x), label="body")
        bookable = fhir_bookable(server, body, x)
        server.run(exercise_fhir(server, x, body, bookable, ledger))

    example()
    assert_nothing_started(server, ledger)


# --- delivery reports --------------------------------------------------------------------------

REPORT_TIMES = st.one_of(
    edge_times,
    edge_times.map(lambda t: t.replace("T", " ")),
    st.sampled_from(("2027-03-28 07:00:01.5", "9999-12-31 23:59:59.999999", "0001-01-01 00:00:00")),
    st.datetimes().map(lambda d: d.isoformat(sep=" ")),
    texts,
)


def report_forms(provider_id: str) -> st.SearchStrategy[dict[str, str]]:
    ids = st.one_of(
        st.just(provider_id),
        st.just(f"{provider_id} x"),
        st.just(provider_id + "x" * 100),
        texts,
    )
    states = st.one_of(st.sampled_from(("sent", "delivered", "failed", "queued", "Delivered", "")), texts)
    random = st.builds(
        lambda extra, form: {**extra, **form},
        st.dictionaries(st.text(max_size=8), texts, max_size=3),
        st.fixed_dictionaries({}, optional={"id": ids, "status": states, "delivered": REPORT_TIMES}),
    )
    report = st.fixed_dictionaries(
        {"id": st.just(provider_id), "status": st.sampled_from(("sent", "delivered", "failed"))},
        optional={"delivered": REPORT_TIMES},
    )
    near = report.flatmap(lambda form: st.one_of(st.just(form), mutated(form)))
    return st.one_of(random, near).map(
        lambda form: {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in form.items()}
    )


def form_valid(form: dict[str, str]) -> bool:
    provider_id, state = form.get("id"), form.get("status")
    return bool(provider_id and PROVIDER_ID.fullmatch(provider_id)) and state in (
        "sent",
        "delivered",
        "failed",
    )


async def exercise_report(server: Server, body: Body, valid: bool | None, secrets: set[str], key: str) -> int:
    """POST `body` to the callback URL of the message `key`, with its token (docs/delivery-reports.md)."""
    api = server.api
    headers = {"content-type": body.content_type} if body.content_type else {}
    url, token = f"{CALLBACK}?key={quote(key, safe='')}", delivery_token(DLR_SECRET, key)
    response = await call(api, "POST", url, content=body.content, headers=headers, auth=("46elks", token))
    code = response.status_code
    assert code < 500, f"POST {CALLBACK}: {code} {response.text[:300]}"
    if code < 400:
        assert code == 204 and response.content == b"" and valid is not False, f"{code} for an invalid form"
    else:
        assert valid is not True, f"{code} for a valid form: {response.text[:300]}"
        check_refusal(response)
    check_no_echo(response, secrets)
    return code


def test_random_delivery_report_forms_are_204_or_4xx_problems_and_record_nothing(server: Server) -> None:
    refused: list[str] = []
    ledger = server.api.stores.sms_ledger

    @settings(max_examples=120, **FUZZ)
    @given(data=st.data())
    def example(data: st.DataObject) -> None:
        provider_id = server.fresh()
        key = f"sms-reminder-{provider_id}/v1/patient"  # a message sent, of a reminder that is no more
        ledger.put(SmsReceipt(key=key, provider_id=provider_id, sent_at=datetime.now(UTC)))
        form = data.draw(st.one_of(report_forms(provider_id), st.none()), label="form")
        if form is None:
            body = data.draw(raw_bodies(("application/x-www-form-urlencoded",)), label="body")
            valid, secrets = None, secrets_of_body(body)
        else:
            body = Body(urlencode(form).encode(), "application/x-www-form-urlencoded")
            valid, secrets = form_valid(form) and form["id"] == provider_id, patient_data_of(form)
        if server.run(exercise_report(server, body, valid, secrets, key)) >= 400:
            refused.append(provider_id)

    example()
    assert refused
    assert [p for p in refused if ledger.delivery(p) is not None] == []


# --- the directory (last: an accepted document changes it) -------------------------------------

MOBILES = tuple(
    mobile
    for patient in fx.demo_document()["patients"]
    for mobile in (patient.get("mobile"), *(g["mobile"] for g in patient.get("guardians") or []))
    if mobile
)
DIRECTORY_SECRETS = (
    *MOBILES,
    *(fx.e164(m) for m in MOBILES),
    *(p["family_name"] for p in fx.demo_document()["patients"]),
    *(
        (p.get("postal_address") or {}).get("street") or "Påhittegatan 1"
        for p in fx.demo_document()["patients"]
    ),
)
"""Patient data of the demo directory besides the personnummer: no refusal may repeat it."""


def directory_valid(value: Any) -> bool:
    if not isinstance(value, dict):
        return False
    try:
        validate_document(value, strict(DirectoryDocument))
    except ValueError:
        return False
    return True


async def exercise_directory(server: Server, body: Body) -> None:
    api = server.api
    value = decoded_v1(body)
    valid = value is not NOT_JSON and directory_valid(value)
    response = await send(api, "PUT", "/v1/directory", body, token=api.all_token)
    code = response.status_code
    assert code < 500, f"PUT /v1/directory: {code} {response.text[:300]}"
    if code < 400:
        assert code == 200 and valid, f"PUT /v1/directory: {code} for an invalid document"
    else:
        check_refusal(response)
    sent = body.content.decode("utf-8", "replace")
    check_no_echo(response, secrets_of_body(body) | {s for s in DIRECTORY_SECRETS if s in sent})


def test_random_directory_documents_are_4xx_problems_unless_valid_and_never_echo_patient_data(
    server: Server,
) -> None:
    document = directory_with_hsa_ids()

    @settings(max_examples=80, **FUZZ)
    @given(data=st.data())
    def example(data: st.DataObject) -> None:
        bodies = st.one_of(
            json_bodies(st.one_of(json_values, mutated(document), mutated(document, patient=True))),
            raw_bodies(),
        )
        server.run(exercise_directory(server, data.draw(bodies, label="body")))

    try:
        example()
    finally:
        api = server.api
        reloaded = server.run(
            call(api, "PUT", "/v1/directory", json=document, headers=api.auth(api.all_token))
        )
        assert reloaded.status_code == 200, reloaded.text
