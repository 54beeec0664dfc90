"""The codec server the Web UI and CLI call: bearer token, CORS for listed origins only, proto JSON."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.contrib.pydantic import pydantic_data_converter

from demo import data as fx
from entrypoints import codec_server
from security.codec import ENCODING, KEY_ID_KEY, EncryptionCodec
from security.keyring import ENV_VAR, Keyring

TOKEN = "test-token-0123456789abcdef"
UI = "http://localhost:8233"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
KEYRING = Keyring.generate("k-test")


@pytest_asyncio.fixture
async def client() -> AsyncIterator[TestClient[Any, Any]]:
    app = codec_server.build_app(KEYRING, TOKEN, [UI])
    async with TestClient(TestServer(app, host="127.0.0.1")) as test_client:
        yield test_client


def body(payloads: list[Payload]) -> str:
    return json_format.MessageToJson(Payloads(payloads=payloads))


def parse(text: str) -> list[Payload]:
    return list(json_format.Parse(text, Payloads()).payloads)


async def encrypted_patient() -> tuple[Payload, Payload]:
    plain = pydantic_data_converter.payload_converter.to_payloads([{"patient_id": fx.PNR_ADULT_1177}])[0]
    [encrypted] = await EncryptionCodec(KEYRING).encode([plain])
    return plain, encrypted


async def test_decode_with_the_right_token_returns_the_plain_payload(client: TestClient[Any, Any]) -> None:
    plain, encrypted = await encrypted_patient()
    response = await client.post("/decode", data=body([encrypted]), headers=AUTH)
    assert response.status == 200 and response.content_type == "application/json"
    assert parse(await response.text()) == [plain]
    namespaced = await client.post("/default/decode", data=body([encrypted]), headers=AUTH)  # CLI form
    assert parse(await namespaced.text()) == [plain]


async def test_encode_then_decode_round_trips(client: TestClient[Any, Any]) -> None:
    plain, _ = await encrypted_patient()
    encoded = parse(await (await client.post("/encode", data=body([plain]), headers=AUTH)).text())
    assert encoded[0].metadata["encoding"] == ENCODING and encoded[0].metadata[KEY_ID_KEY] == b"k-test"
    assert fx.PNR_ADULT_1177.encode() not in encoded[0].data
    decoded = await client.post("/decode", data=body(encoded), headers=AUTH)
    assert parse(await decoded.text()) == [plain]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong-token"}, {"Authorization": TOKEN}, {"Authorization": "Bearer "}],
    ids=["missing", "wrong", "no-scheme", "empty"],
)
async def test_missing_or_wrong_token_is_401_without_payloads(
    client: TestClient[Any, Any], headers: dict[str, str]
) -> None:
    _, encrypted = await encrypted_patient()
    for path in ("/decode", "/encode"):
        response = await client.post(path, data=body([encrypted]), headers=headers)
        assert response.status == 401
        assert "payloads" not in await response.text()


async def test_foreign_origin_gets_no_cors_headers_and_is_refused(client: TestClient[Any, Any]) -> None:
    _, encrypted = await encrypted_patient()
    evil = {"Origin": "https://evil.example", **AUTH}
    response = await client.post("/decode", data=body([encrypted]), headers=evil)
    assert response.status == 403 and "Access-Control-Allow-Origin" not in response.headers
    preflight = await client.options(
        "/decode", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert "Access-Control-Allow-Origin" not in preflight.headers
    assert "Access-Control-Allow-Credentials" not in preflight.headers


async def test_allowed_origin_preflight_and_request_get_cors_headers(client: TestClient[Any, Any]) -> None:
    preflight = await client.options(
        "/decode",
        headers={
            "Origin": UI,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
        },
    )
    assert preflight.status in (200, 204)
    assert preflight.headers["Access-Control-Allow-Origin"] == UI
    assert preflight.headers["Access-Control-Allow-Credentials"] == "true"
    allowed = {h.strip().lower() for h in preflight.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type", "x-namespace"} <= allowed
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]

    plain, encrypted = await encrypted_patient()
    headers = {"Origin": UI, "X-Namespace": "default", "Content-Type": "application/json", **AUTH}
    response = await client.post("/decode", data=body([encrypted]), headers=headers)
    assert response.status == 200 and response.headers["Access-Control-Allow-Origin"] == UI
    assert parse(await response.text()) == [plain]
    refused = await client.post("/decode", data=body([encrypted]), headers={"Origin": UI})
    assert refused.status == 401  # with CORS headers, so that the UI can read the error
    assert refused.headers["Access-Control-Allow-Origin"] == UI


async def test_bad_body_and_unknown_key_are_400_naming_no_payload_data(client: TestClient[Any, Any]) -> None:
    bad = await client.post("/decode", data="not json " + fx.PNR_ADULT_1177, headers=AUTH)
    assert bad.status == 400 and fx.PNR_ADULT_1177 not in await bad.text()
    plain = pydantic_data_converter.payload_converter.to_payloads([fx.PNR_ADULT_1177])[0]
    [foreign] = await EncryptionCodec(Keyring.generate("k-other")).encode([plain])
    unknown = await client.post("/decode", data=body([foreign]), headers=AUTH)
    assert unknown.status == 400 and "k-other" in json.loads(await unknown.text())["error"]


async def test_unencrypted_payloads_pass_through_decode(client: TestClient[Any, Any]) -> None:
    plain, _ = await encrypted_patient()
    response = await client.post("/decode", data=body([plain]), headers=AUTH)
    assert parse(await response.text()) == [plain]


def test_main_refuses_to_start_without_a_token_or_keys(
    capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    assert codec_server.main({"PM_DATA_DIR": str(tmp_path)}) == 2
    assert "PM_CODEC_TOKEN" in capsys.readouterr().err
    assert codec_server.main({"PM_CODEC_TOKEN": TOKEN, "PM_DATA_DIR": str(tmp_path)}) == 2
    assert ENV_VAR in capsys.readouterr().err


async def test_local_ui_mode_lets_the_allowed_browser_origin_decode_without_a_token() -> None:
    app = codec_server.build_app(KEYRING, TOKEN, [UI], local_ui=True)
    _, encrypted = await encrypted_patient()
    async with TestClient(TestServer(app, host="127.0.0.1")) as local:
        browser = await local.post("/decode", data=body([encrypted]), headers={"Origin": UI})
        assert browser.status == 200 and browser.headers["Access-Control-Allow-Origin"] == UI
        no_origin = await local.post("/decode", data=body([encrypted]))  # a script without the token
        assert no_origin.status == 401
        wrong = await local.post(
            "/decode",
            data=body([encrypted]),
            headers={"Origin": UI, "Authorization": "Bearer wrong-token-xx"},
        )
        assert wrong.status == 401
        foreign = await local.post("/decode", data=body([encrypted]), headers={"Origin": "http://evil.test"})
        assert foreign.status == 403


def test_local_ui_mode_refuses_a_non_loopback_bind(capsys: pytest.CaptureFixture[str]) -> None:
    env = {
        "PM_CODEC_TOKEN": TOKEN,
        "PM_CODEC_LOCAL_UI": "1",
        "PM_CODEC_HOST": "0.0.0.0",
        ENV_VAR: KEYRING.to_text(),
    }
    assert codec_server.main(env) == 2
    assert "loopback" in capsys.readouterr().err
