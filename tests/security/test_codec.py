"""Payload encryption: the keyring, the codec, and what a real Temporal server stores (ciphertext only)."""

from __future__ import annotations

import base64
import os
import stat
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload, SearchAttributes
from temporalio.api.history.v1 import HistoryEvent, MarkerRecordedEventAttributes
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from demo import data as fx
from domain.booking import VisitBooking
from domain.status import ReminderState, ReminderStatus
from infrastructure.namespace_setup import register_search_attributes
from security.codec import (
    ENCODING,
    KEY_ID_KEY,
    EncryptionCodec,
    PayloadDecryptionError,
    UnknownKeyIdError,
    data_converter,
)
from security.keyring import (
    ENV_VAR,
    Key,
    Keyring,
    KeyringError,
    MissingKeyError,
    ensure_local_keyring,
    load_keyring,
    require_keyring,
    rotate_key_file,
)
from testkit.processes import start_time_skipping
from tests.harness import Harness

PATIENT = {"patient_id": fx.PNR_ADULT_1177, "name": "Testa Testsson", "mobile": fx.e164(fx.MOBILE_ADULT_1177)}
SECRETS = [
    fx.PNR_ADULT_1177,
    fx.PNR_ADULT_1177.replace("-", ""),
    "Testa",
    "Testsson",
    fx.MOBILE_ADULT_1177,
    fx.e164(fx.MOBILE_ADULT_1177),
]


def json_payload(value: Any) -> Payload:
    return pydantic_data_converter.payload_converter.to_payloads([value])[0]


# --- codec ---


async def test_round_trip_restores_the_payload_exactly() -> None:
    codec = EncryptionCodec(Keyring.generate())
    original = [json_payload(PATIENT), json_payload(None), Payload(metadata={"encoding": b"x"}, data=b"")]
    assert await codec.decode(await codec.encode(original)) == original


async def test_encoded_payload_names_the_current_key_and_hides_the_plaintext() -> None:
    keyring = Keyring.generate("k-one")
    [encrypted] = await EncryptionCodec(keyring).encode([json_payload(PATIENT)])
    assert encrypted.metadata["encoding"] == ENCODING == b"binary/encrypted"
    assert encrypted.metadata[KEY_ID_KEY] == b"k-one"
    raw = encrypted.SerializeToString()
    assert all(secret.encode() not in raw for secret in SECRETS)
    assert b"json/plain" not in raw  # the inner metadata is encrypted too


async def test_same_value_encrypts_differently_each_time() -> None:
    codec = EncryptionCodec(Keyring.generate())
    first, second = await codec.encode([json_payload(PATIENT), json_payload(PATIENT)])
    assert first.data != second.data


async def test_unknown_key_id_is_a_clear_error_naming_only_the_key_id() -> None:
    [encrypted] = await EncryptionCodec(Keyring.generate("k-old")).encode([json_payload(PATIENT)])
    with pytest.raises(UnknownKeyIdError, match="'k-old'") as raised:
        await EncryptionCodec(Keyring.generate("k-new")).decode([encrypted])
    assert fx.PNR_ADULT_1177 not in str(raised.value)


async def test_wrong_key_under_a_known_id_or_altered_data_does_not_decrypt() -> None:
    [encrypted] = await EncryptionCodec(Keyring.generate("k1")).encode([json_payload(PATIENT)])
    with pytest.raises(PayloadDecryptionError, match="'k1'"):
        await EncryptionCodec(Keyring.generate("k1")).decode([encrypted])  # same id, other key
    codec = EncryptionCodec(Keyring.generate("k2"))
    [encrypted] = await codec.encode([json_payload(PATIENT)])
    altered = Payload(metadata=encrypted.metadata, data=encrypted.data[:-1] + bytes([encrypted.data[-1] ^ 1]))
    with pytest.raises(PayloadDecryptionError):
        await codec.decode([altered])


async def test_unencrypted_payloads_pass_through_decode() -> None:
    plain = [json_payload(PATIENT), Payload(metadata={"encoding": b"binary/null"})]
    assert await EncryptionCodec(Keyring.generate()).decode(plain) == plain


async def test_data_converter_encrypts_and_decodes_values() -> None:
    converter = data_converter(Keyring.generate())
    [payload] = await converter.encode([PATIENT])
    assert payload.metadata["encoding"] == ENCODING
    assert await converter.decode([payload], [dict]) == [PATIENT]
    assert data_converter(None) is pydantic_data_converter


# --- keyring ---


def test_keyring_text_round_trip_with_comments_blank_lines_and_semicolons() -> None:
    keyring = Keyring.generate("k-a").rotated("k-b").rotated()
    assert Keyring.from_text(keyring.to_text()) == keyring
    a, b = (base64.b64encode(k.secret).decode() for k in keyring.keys[:2])
    text = f"# keys\n\n k-a:{a}  # the first\nk-b:{b};\n"
    assert Keyring.from_text(text).key_ids == ["k-a", "k-b"]
    assert Keyring.from_text(f"k-a:{a};k-b:{b}").current.key_id == "k-b"


def test_generated_key_ids_and_keys() -> None:
    keyring = Keyring.generate()
    assert keyring.current.key_id.startswith("k-") and len(keyring.current.key_id) == len("k-20261121-abcd")
    assert len(keyring.current.secret) == 32
    assert "secret" not in repr(keyring) and base64.b64encode(keyring.current.secret).decode() not in repr(
        keyring
    )


@pytest.mark.parametrize(
    "text",
    ["", "# only a comment", "k1", f"k1:{'A' * 10}", "k1:!!notbase64!!", f"bad id:{'A' * 43}="],
    ids=["empty", "comment", "no-colon", "short-key", "not-base64", "bad-id"],
)
def test_bad_keyring_text_is_refused_without_echoing_it(text: str) -> None:
    with pytest.raises(KeyringError) as raised:
        Keyring.from_text(text)
    assert "notbase64" not in str(raised.value) and "AAAA" not in str(raised.value)


def test_duplicate_key_ids_are_refused() -> None:
    key = Keyring.generate("k1").current
    with pytest.raises(KeyringError, match="twice"):
        Keyring((key, Key("k1", os.urandom(32))))
    with pytest.raises(KeyringError, match="already"):
        Keyring((key,)).rotated("k1")


async def test_rotation_keeps_old_ciphertext_readable_and_encrypts_with_the_new_key() -> None:
    old = Keyring.generate("k1")
    [before] = await EncryptionCodec(old).encode([json_payload(PATIENT)])
    new = old.rotated()
    assert new.key_ids[0] == "k1" and new.current.key_id != "k1" and len(new) == 2
    codec = EncryptionCodec(new)
    [after] = await codec.encode([json_payload(PATIENT)])
    assert after.metadata[KEY_ID_KEY] == new.current.key_id.encode()
    assert await codec.decode([before, after]) == [json_payload(PATIENT)] * 2


def test_ensure_local_keyring_creates_a_0600_file_then_loads_it(tmp_path: Path) -> None:
    path = tmp_path / "data" / "keys.txt"
    created = ensure_local_keyring(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ensure_local_keyring(path) == created
    assert [p.name for p in path.parent.iterdir()] == ["keys.txt"]  # no temporary file left


def test_ensure_local_keyring_refuses_a_file_others_can_read(tmp_path: Path) -> None:
    path = tmp_path / "keys.txt"
    path.write_text(Keyring.generate().to_text())
    path.chmod(0o644)
    with pytest.raises(KeyringError, match="chmod 600"):
        ensure_local_keyring(path)


def test_rotate_key_file_appends_a_current_key_and_keeps_0600(tmp_path: Path) -> None:
    path = tmp_path / "keys.txt"
    first = ensure_local_keyring(path)
    rotated = rotate_key_file(path)
    assert rotated.keys[0] == first.current and len(rotated) == 2
    assert load_keyring({}, path) == rotated and stat.S_IMODE(path.stat().st_mode) == 0o600


def test_load_keyring_prefers_the_environment_then_the_file(tmp_path: Path) -> None:
    from_env = Keyring.generate("k-env")
    path = tmp_path / "keys.txt"
    from_file = ensure_local_keyring(path)
    env = {ENV_VAR: ";".join(line for line in from_env.to_text().splitlines() if not line.startswith("#"))}
    assert load_keyring(env, path) == from_env
    assert load_keyring({ENV_VAR: "  "}, path) == from_file
    assert load_keyring({}, tmp_path / "absent.txt") is None
    assert load_keyring({}) is None
    with pytest.raises(MissingKeyError, match=ENV_VAR):
        require_keyring({}, tmp_path / "absent.txt")


# --- on a real Temporal server ---


@asynccontextmanager
async def encrypted_env(keyring: Keyring) -> AsyncIterator[WorkflowEnvironment]:
    async with await start_time_skipping(data_converter(keyring)) as env:
        await register_search_attributes(env.client, "default")
        yield env


def client_with(env: WorkflowEnvironment, keyring: Keyring | None) -> Client:
    return Client(env.client.service_client, namespace="default", data_converter=data_converter(keyring))


def visit(start: Any, booking_id: str = "b1") -> VisitBooking:
    return VisitBooking(
        booking_id=booking_id,
        patient_id=fx.PNR_ADULT_1177,
        clinic_id=fx.CLINIC_CONNECTED,
        reception_id=fx.RECEPTION_GENERAL,
        start=start,
    )


def sent(status: ReminderStatus) -> bool:
    return status.state is not ReminderState.SCHEDULED


CORE_MARKER_DATA = {"patch-data", "data"}
"""Marker details the SDK core writes itself, unencrypted: a patch id, a local activity's id, type and
timing. A local activity's input and result are payloads like any other (encrypted)."""


def payloads_in(message: Message) -> Iterator[Payload]:
    """Every payload of a history event, except search attributes (indexed by the server, unencrypted
    by design: they hold system ids only) and the core's own marker data."""
    if isinstance(message, Payload):
        yield message
        return
    if isinstance(message, SearchAttributes):
        return
    if isinstance(message, MarkerRecordedEventAttributes):
        for name, details in message.details.items():
            if name not in CORE_MARKER_DATA:
                yield from details.payloads
        return
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if isinstance(value, Message):
            items = [value]
        elif field.message_type.GetOptions().map_entry:
            items = list(value.values())
        else:  # a repeated field
            items = list(value)
        for item in items:
            if isinstance(item, Message):
                yield from payloads_in(item)


async def history(env: WorkflowEnvironment, workflow_id: str) -> list[HistoryEvent]:
    """The history as the server stores it, read by a client without the codec."""
    plain = await Client.connect(env.client.service_client.config.target_host, namespace="default")
    return list((await plain.get_workflow_handle(workflow_id).fetch_history()).events)


async def test_payloads_stored_on_the_server_are_ciphertext(tmp_path: Path) -> None:
    keyring = Keyring.generate()
    async with encrypted_env(keyring) as env:
        harness = Harness(env, tmp_path, fx.demo_document())
        async with harness.worker():
            handle = await harness.book(visit(await harness.local(days=2, hour=10)))
            await harness.sleep_until(await harness.local(days=1, hour=9, minute=1))
            status = await harness.settled(handle, sent)
        assert status.state is ReminderState.SENT
        assert harness.sent_to() == [fx.e164(fx.MOBILE_ADULT_1177)]
        events = await history(env, handle.id)

    started = events[0].workflow_execution_started_event_attributes
    assert started.input.payloads and all(p.metadata["encoding"] == ENCODING for p in started.input.payloads)
    payloads = [p for event in events for p in payloads_in(event)]
    assert len(payloads) > len(started.input.payloads)  # activity inputs and results, summary, ...
    assert {p.metadata["encoding"] for p in payloads} == {ENCODING}
    assert {p.metadata[KEY_ID_KEY] for p in payloads} == {keyring.current.key_id.encode()}
    local_results = [
        e.marker_recorded_event_attributes.details["result"]
        for e in events
        if "result" in e.marker_recorded_event_attributes.details
    ]
    assert local_results  # the directory reads are local activities: their results are encrypted too
    stored = b"".join(event.SerializeToString() for event in events)
    for secret in SECRETS:
        assert secret.encode() not in stored, "patient data stored in the clear"
    # ... while the same payloads, decrypted, do carry the personnummer (so the check above means something)
    [booking] = await data_converter(keyring).decode(started.input.payloads, [VisitBooking])
    assert booking.patient_id == fx.PNR_ADULT_1177


async def test_key_rotation_workflow_started_under_key_1_finishes_under_key_2(tmp_path: Path) -> None:
    key1 = Keyring.generate("k1")
    key2 = key1.rotated("k2")  # [k1, k2], k2 current
    async with encrypted_env(key1) as env:
        harness = Harness(env, tmp_path, fx.demo_document())
        async with harness.worker(sticky=False):
            old_handle = await harness.book(visit(await harness.local(days=3, hour=10)))
            await harness.settled(old_handle, lambda s: s.next_action is not None)

        harness.client = client_with(env, key2)  # the worker and clients get the rotated keyring
        async with harness.worker(sticky=False):
            handle = harness.client.get_workflow_handle(old_handle.id)
            await harness.sleep_until(await harness.local(days=2, hour=9, minute=1))
            status = await harness.settled(handle, sent)
            only_k2 = client_with(env, Keyring((key2.current,))).get_workflow_handle(old_handle.id)
            assert (await only_k2.query("status", result_type=ReminderStatus)).state is ReminderState.SENT
            with pytest.raises(UnknownKeyIdError, match="'k2'"):  # a client left on the old keyring
                await old_handle.query("status", result_type=ReminderStatus)
        events = await history(env, old_handle.id)

    assert status.state is ReminderState.SENT and harness.outbox.count() == 1
    key_ids = [p.metadata[KEY_ID_KEY] for event in events for p in payloads_in(event)]
    assert key_ids[0] == b"k1"  # the start input
    assert key_ids[-1] == b"k2" and set(key_ids) == {b"k1", b"k2"}
