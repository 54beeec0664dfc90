"""The codec server reads for named people only, and audits each read.

Real servers throughout: the codec server (aiohttp) on 127.0.0.1, the OpenID provider of
testkit/fake_oidc.py on 127.0.0.1 with RSA-signed access tokens, and the audit trail and codec tokens in
SQLite files. Refused: no token, an expired one, the wrong audience or issuer, another key's signature,
no role and no clinic, a forged browser Origin, a revoked or unknown codec token. Accepted: a person's
access token or personal codec token, one audit row per call naming them. Malformed payloads: 400.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives.asymmetric import rsa
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.contrib.pydantic import pydantic_data_converter

from adapters.audit import AuditRecord, SqliteAuditTrail
from adapters.operator_tokens import SqliteOperatorTokens
from demo import data as fx
from entrypoints import codec_server
from entrypoints.codec_server import CodecAuthenticator, OidcSettings
from infrastructure.config import Settings
from infrastructure.stores import Stores
from security.codec import ENCODING, KEY_ID_KEY, EncryptionCodec
from security.keyring import ENV_VAR, Keyring
from testkit.fake_oidc import FakeOidc, fake_oidc
from testkit.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
UI = "http://localhost:8233"
AUDIENCE = "temporal-codec"
ROLE = "patient-data-reader"
PERSON = "hsa-SE2321000016-a1b2"  # the provider's subject: an HSA-id, never a patient datum
KEYRING = Keyring.generate("k-test")
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # not the provider's
Client = TestClient[Any, Any]


@dataclass
class Site:
    """A running codec server and what it writes."""

    client: Client
    provider: FakeOidc
    audit: SqliteAuditTrail
    operators: SqliteOperatorTokens

    def token(self, key: Any = None, **claims: Any) -> str:
        return access_token(self.provider, key, **claims)

    def bearer(self, **claims: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(**claims)}", "X-Namespace": "default"}


def access_token(provider: FakeOidc, key: Any = None, **claims: Any) -> str:
    """An RS256 access token of `provider` for PERSON with the reader role (`key`: sign with another
    key under the provider's key id); a claim set to None is left out."""
    now = int(time.time())
    base = {
        "iss": provider.url,
        "aud": AUDIENCE,
        "sub": PERSON,
        "iat": now,
        "exp": now + 300,
        "roles": [ROLE],
    }
    token_claims = {k: v for k, v in (base | claims).items() if v is not None}
    return jwt.encode(token_claims, key or provider.key, algorithm="RS256", headers={"kid": "k1"})


@pytest.fixture(scope="module")
def provider() -> Iterator[FakeOidc]:
    with fake_oidc({}) as running:
        yield running


def oidc_settings(provider: FakeOidc) -> OidcSettings:
    return OidcSettings(issuer=provider.url, audience=AUDIENCE, jwks_url=f"{provider.url}/jwks")


@pytest_asyncio.fixture
async def site(provider: FakeOidc, tmp_path: Path) -> AsyncIterator[Site]:
    audit = SqliteAuditTrail(tmp_path / "audit.sqlite3")
    operators = SqliteOperatorTokens(tmp_path / "operator-tokens.sqlite3")
    app = codec_server.build_app(KEYRING, CodecAuthenticator(operators, oidc_settings(provider)), audit, [UI])
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield Site(client, provider, audit, operators)
    audit.close()
    operators.close()


def body(payloads: list[Payload]) -> str:
    return json_format.MessageToJson(Payloads(payloads=payloads))


def parse(text: str) -> list[Payload]:
    return list(json_format.Parse(text, Payloads()).payloads)


async def encrypted_patient() -> tuple[Payload, Payload]:
    plain = pydantic_data_converter.payload_converter.to_payloads([{"patient_id": fx.PNR_ADULT_1177}])[0]
    [encrypted] = await EncryptionCodec(KEYRING).encode([plain])
    return plain, encrypted


def no_patient_data(records: list[AuditRecord]) -> bool:
    text = json.dumps([r.model_dump(mode="json") for r in records])
    return fx.PNR_ADULT_1177 not in text and fx.PNR_ADULT_1177.replace("-", "") not in text


# --- accepted: a named person, one audit row ---


async def test_a_signed_in_readers_access_token_decodes_and_one_audit_row_names_them(site: Site) -> None:
    plain, encrypted = await encrypted_patient()
    headers = {"Origin": UI, "Content-Type": "application/json", **site.bearer()}  # as the Web UI sends
    response = await site.client.post("/decode", data=body([encrypted, encrypted]), headers=headers)
    assert response.status == 200 and response.content_type == "application/json"
    assert parse(await response.text()) == [plain, plain]
    assert response.headers["Access-Control-Allow-Origin"] == UI
    [row] = site.audit.records()
    assert row.model_dump(exclude={"at"}) == {
        "actor": f"staff:{PERSON}",
        "action": "codec.decode",
        "workflow_id": None,  # the Web UI sends none (only X-Namespace)
        "clinic_id": "*",  # the role reads every clinic
        "outcome": "ok",
        "namespace": "default",
        "payloads": 2,
    }
    assert no_patient_data([row])


async def test_a_clinic_claim_without_the_role_may_read_and_the_audit_names_the_clinics(site: Site) -> None:
    _, encrypted = await encrypted_patient()
    one = await site.client.post(
        "/decode", data=body([encrypted]), headers=site.bearer(roles=None, clinics=["kir"])
    )
    assert one.status == 200
    two = site.bearer(roles=["other-role"], clinics="onh kir")  # a space-separated claim counts too
    assert (await site.client.post("/decode", data=body([encrypted]), headers=two)).status == 200
    assert [r.clinic_id for r in site.audit.records()] == ["kir", "kir,onh"]


async def test_a_personal_codec_token_decodes_under_the_operators_name_until_revoked(site: Site) -> None:
    plain, encrypted = await encrypted_patient()
    token = site.operators.create("anna.lind")
    cli = {"Authorization": f"Bearer {token}"}  # as `temporal ... --codec-auth "Bearer <token>"` sends
    response = await site.client.post("/default/decode", data=body([encrypted]), headers=cli)
    assert response.status == 200 and parse(await response.text()) == [plain]
    [row] = site.audit.records()
    assert (row.actor, row.namespace, row.payloads, row.outcome) == ("operator:anna.lind", "default", 1, "ok")
    assert site.operators.revoke("anna.lind") == 1
    revoked = await site.client.post("/decode", data=body([encrypted]), headers=cli)
    assert revoked.status == 401 and "revoked" in (await revoked.json())["error"]
    assert len(site.audit.records()) == 1


async def test_encode_then_decode_round_trips_and_both_are_audited(site: Site) -> None:
    plain, _ = await encrypted_patient()
    encoded = parse(
        await (await site.client.post("/encode", data=body([plain]), headers=site.bearer())).text()
    )
    assert encoded[0].metadata["encoding"] == ENCODING and encoded[0].metadata[KEY_ID_KEY] == b"k-test"
    assert fx.PNR_ADULT_1177.encode() not in encoded[0].data
    decoded = await site.client.post("/decode", data=body(encoded), headers=site.bearer())
    assert parse(await decoded.text()) == [plain]
    assert [(r.action, r.outcome) for r in site.audit.records()] == [
        ("codec.encode", "ok"),
        ("codec.decode", "ok"),
    ]


async def test_unencrypted_payloads_pass_through_decode(site: Site) -> None:
    plain, _ = await encrypted_patient()
    response = await site.client.post("/decode", data=body([plain]), headers=site.bearer())
    assert parse(await response.text()) == [plain]


# --- refused ---


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer ",
        "Bearer not-a-token",
        "Basic YWxhZGRpbjpvcGVuc2VzYW1l",
        "expired",
        "wrong-audience",
        "wrong-issuer",
        "another-key",
        "no-subject",
        "patient-subject",
        "unknown-codec-token",
    ],
)
async def test_a_request_without_a_valid_token_is_401_decodes_nothing_and_names_nobody(
    site: Site, authorization: str | None
) -> None:
    tokens = {
        "expired": site.token(exp=int(time.time()) - 60),
        "wrong-audience": site.token(aud="mitt-arbetsflode"),  # the staff page's client: not for us
        "wrong-issuer": site.token(iss="https://login.elsewhere.example"),
        "another-key": site.token(key=OTHER_KEY),  # the provider's kid, someone else's signature
        "no-subject": site.token(sub=None),
        "patient-subject": site.token(sub=fx.PNR_ADULT_1177),
        "unknown-codec-token": "pmo_" + "x" * 43,
    }
    if authorization in tokens:
        headers = {"Authorization": f"Bearer {tokens[authorization]}"}
    else:
        headers = {} if authorization is None else {"Authorization": authorization}
    _, encrypted = await encrypted_patient()
    for path in ("/decode", "/encode", "/default/decode"):
        response = await site.client.post(path, data=body([encrypted]), headers=headers)
        assert response.status == 401 and response.headers["WWW-Authenticate"] == "Bearer"
        text = await response.text()
        assert '"payloads"' not in text and "\n" not in text.strip()
        assert fx.PNR_ADULT_1177 not in text
    assert site.audit.records() == []  # nobody to name: the log says it was refused


async def test_an_expired_token_says_so(site: Site) -> None:
    expired = {"Authorization": f"Bearer {site.token(exp=int(time.time()) - 60)}"}
    response = await site.client.post("/decode", data=body([]), headers=expired)
    assert response.status == 401 and "expired" in (await response.json())["error"]


async def test_a_person_without_the_role_or_a_clinic_is_403_and_the_refusal_is_audited(site: Site) -> None:
    _, encrypted = await encrypted_patient()
    no_role = {"roles": None}
    for claims in (no_role, {"roles": ["staff"]}, no_role | {"clinics": []}, no_role | {"clinics": ["*"]}):
        response = await site.client.post("/decode", data=body([encrypted]), headers=site.bearer(**claims))
        assert response.status == 403 and ROLE in (await response.json())["error"]
        assert '"payloads"' not in await response.text()
    rows = site.audit.records()
    assert len(rows) == 4
    assert {(r.actor, r.action, r.outcome, r.payloads) for r in rows} == {
        (f"staff:{PERSON}", "codec.decode", "refused:403", None)
    }
    assert {r.clinic_id for r in rows} == {None}  # the audit's one row without a clinic: they have none


async def test_a_forged_local_origin_without_a_token_is_refused(site: Site) -> None:
    """What `dev.py run` used to let through: any local process can send the Web UI's Origin."""
    _, encrypted = await encrypted_patient()
    forged = {"Origin": UI, "X-Namespace": "default", "Content-Type": "application/json"}
    response = await site.client.post("/decode", data=body([encrypted]), headers=forged)
    assert response.status == 401
    assert response.headers["Access-Control-Allow-Origin"] == UI  # so that the UI can show the error
    assert '"payloads"' not in await response.text()
    assert site.audit.records() == []


async def test_foreign_origin_gets_no_cors_headers_and_is_refused(site: Site) -> None:
    _, encrypted = await encrypted_patient()
    evil = {"Origin": "https://evil.example", **site.bearer()}
    response = await site.client.post("/decode", data=body([encrypted]), headers=evil)
    assert response.status == 403 and "Access-Control-Allow-Origin" not in response.headers
    preflight = await site.client.options(
        "/decode", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert "Access-Control-Allow-Origin" not in preflight.headers
    assert "Access-Control-Allow-Credentials" not in preflight.headers


async def test_allowed_origin_preflight_gets_cors_headers_without_credentials(site: Site) -> None:
    preflight = await site.client.options(
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
    assert site.audit.records() == []


# --- malformed: 400, one line, never 500 ---


def malformed_bodies() -> dict[str, str]:
    encrypted = {"encoding": "YmluYXJ5L2VuY3J5cHRlZA==", "encryption-key-id": "ay10ZXN0"}  # k-test
    return {
        "shorter-than-a-nonce": json.dumps({"payloads": [{"metadata": encrypted, "data": "AQID"}]}),
        "nonce-without-a-tag": json.dumps({"payloads": [{"metadata": encrypted, "data": "A" * 20}]}),
        "empty-encrypted-data": json.dumps({"payloads": [{"metadata": encrypted}]}),
        "bad-base64-data": json.dumps(
            {"payloads": [{"metadata": encrypted, "data": "!!!" + fx.PNR_ADULT_1177}]}
        ),
        "bad-base64-metadata": json.dumps({"payloads": [{"metadata": {"encoding": "%%%"}, "data": ""}]}),
        "not-json": "not json " + fx.PNR_ADULT_1177,
        "a-json-array": "[]",
        "payloads-not-a-list": json.dumps({"payloads": fx.PNR_ADULT_1177}),
        "metadata-not-an-object": json.dumps({"payloads": [{"metadata": "x", "data": ""}]}),
        "a-payload-not-an-object": json.dumps({"payloads": [1]}),
        "unknown-field": json.dumps({"payloads": [{"dat": fx.PNR_ADULT_1177}]}),
        "deeply-nested": '{"payloads": [' + "[" * 100_000 + "]" * 100_000 + "]}",
        "not-utf8": '{"payloads": ["\xff"]}',
    }


@pytest.mark.parametrize("kind", list(malformed_bodies()))
async def test_a_malformed_body_or_payload_is_400_with_one_line_and_audited(site: Site, kind: str) -> None:
    data = malformed_bodies()[kind]
    response = await site.client.post("/decode", data=data.encode("latin-1"), headers=site.bearer())
    assert response.status == 400, await response.text()
    text = await response.text()
    assert "\n" not in text.strip() and fx.PNR_ADULT_1177 not in text and "Traceback" not in text
    assert set(json.loads(text)) == {"error"}
    [row] = site.audit.records()
    assert row.outcome == "refused:400" and row.actor == f"staff:{PERSON}" and no_patient_data([row])


async def test_an_unknown_key_id_is_400_naming_the_key_only(site: Site) -> None:
    plain = pydantic_data_converter.payload_converter.to_payloads([fx.PNR_ADULT_1177])[0]
    [foreign] = await EncryptionCodec(Keyring.generate("k-other")).encode([plain])
    unknown = await site.client.post("/decode", data=body([foreign]), headers=site.bearer())
    assert unknown.status == 400 and "k-other" in json.loads(await unknown.text())["error"]


async def test_a_namespace_that_is_no_namespace_name_is_400_and_not_recorded(site: Site) -> None:
    headers = site.bearer() | {"X-Namespace": fx.PNR_ADULT_1177}
    response = await site.client.post("/decode", data=body([]), headers=headers)
    assert response.status == 400
    [row] = site.audit.records()
    assert row.namespace is None and no_patient_data([row])


async def test_nothing_is_decoded_when_the_audit_trail_cannot_be_written(
    provider: FakeOidc, tmp_path: Path
) -> None:
    (tmp_path / "not-a-folder").write_text("")
    audit = SqliteAuditTrail(tmp_path / "not-a-folder" / "audit.sqlite3")  # its folder cannot be made
    operators = SqliteOperatorTokens(tmp_path / "operator-tokens.sqlite3")
    app = codec_server.build_app(KEYRING, CodecAuthenticator(operators, oidc_settings(provider)), audit, [UI])
    _, encrypted = await encrypted_patient()
    token = operators.create("anna.lind")
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        response = await client.post(
            "/decode", data=body([encrypted]), headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status == 503 and "audit" in (await response.json())["error"]
        assert '"payloads"' not in await response.text()


# --- the process, its settings and the codec-token command ---


def test_main_refuses_a_shared_token_a_partial_provider_or_no_keys(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    keys = {ENV_VAR: KEYRING.to_text(), "PM_DATA_DIR": str(tmp_path)}
    assert codec_server.main(keys | {"PM_CODEC_TOKEN": "a-shared-secret-0123456789"}) == 2
    assert "codec-token create" in capsys.readouterr().err
    assert codec_server.main(keys | {"PM_CODEC_OIDC_ISSUER": "https://login.region.se"}) == 2
    err = capsys.readouterr().err
    assert "PM_CODEC_OIDC_AUDIENCE" in err and "PM_CODEC_OIDC_JWKS_URL" in err and len(err.splitlines()) == 1
    assert codec_server.main({"PM_DATA_DIR": str(tmp_path)}) == 2
    assert ENV_VAR in capsys.readouterr().err


def test_the_codec_server_process_reads_for_a_signed_in_person_only(
    provider: FakeOidc, tmp_path: Path
) -> None:
    """`python -m entrypoints.codec_server` as deployed: the provider's token opens it, a forged
    Origin does not, and the audit row is in the data folder's trail."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PM_", "TEMPORAL_"))} | {
        ENV_VAR: KEYRING.to_text(),
        "PM_DATA_DIR": str(tmp_path),
        "PM_CODEC_PORT": str(port),
        "PM_CODEC_OIDC_ISSUER": provider.url,
        "PM_CODEC_OIDC_AUDIENCE": AUDIENCE,
        "PM_CODEC_OIDC_JWKS_URL": f"{provider.url}/jwks",
        "PM_LOG_FORMAT": "json",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "entrypoints.codec_server"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/decode"
        payload = {"payloads": [{"metadata": {"encoding": "YmluYXJ5L3BsYWlu"}, "data": "e30="}]}
        deadline = time.monotonic() + 30
        while True:
            try:
                forged = httpx.post(url, json=payload, headers={"Origin": UI}, timeout=5)
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline, (
                    "the codec server did not start"
                )
                time.sleep(0.1)
        assert forged.status_code == 401
        person = {"Authorization": f"Bearer {access_token(provider)}", "X-Namespace": "default"}
        assert httpx.post(url, json=payload, headers=person, timeout=5).json() == payload
    finally:
        process.terminate()
        output = process.communicate(timeout=15)[0]
    [row] = Stores(Settings(data_dir=tmp_path)).audit.records()
    assert (row.actor, row.action, row.namespace, row.payloads) == (
        f"staff:{PERSON}",
        "codec.decode",
        "default",
        1,
    )
    assert '"event": "codec_request_refused"' in output and "Traceback" not in output
