"""Production authentication: a JWT from the region's OAuth2 server, verified against its JWKS
(signature, issuer, audience, expiry), with the clinics the client may act for in a claim. The
OAuth2 server is a local fake on 127.0.0.1 serving a real RSA key set."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric import rsa

from contracts.workflow_ids import booking_reminder_id
from demo import data as fx
from testkit.fake_http import FakeEndpoint, serve
from tests.http.conftest import Api, booking, running_api

ISSUER = "https://login.region.example"
AUDIENCE = "patient-messaging"


@dataclass
class Jwks(FakeEndpoint):
    keys: str = ""

    def answer_get(self, path: str) -> tuple[int, str]:
        return (200, self.keys) if path == "/jwks" else (404, "Not found")


class Issuer:
    """Signs tokens with its RSA key (kid `k1`); `jwks()` is the public key set."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwks(self) -> str:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return json.dumps({"keys": [public | {"kid": "k1", "use": "sig", "alg": "RS256"}]})

    def token(self, key: Any = None, **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": ISSUER, "aud": AUDIENCE, "exp": now + 300, "iat": now, "azp": "vas-region"} | claims
        return jwt.encode(body, key or self.key, algorithm="RS256", headers={"kid": "k1"})


@pytest.fixture
def issuer() -> Iterator[tuple[Issuer, str]]:
    signer = Issuer()
    for fake in serve(Jwks(keys=signer.jwks()), lambda handler, body: {"path": handler.path}):
        yield signer, f"{fake.url}/jwks"


@pytest_asyncio.fixture
async def jwt_api(tmp_path: Path, issuer: tuple[Issuer, str]) -> AsyncIterator[Api]:
    _, jwks_url = issuer
    async with running_api(tmp_path, jwt_issuer=ISSUER, jwt_audience=AUDIENCE, jwt_jwks_url=jwks_url) as api:
        yield api


async def test_a_jwt_of_the_region_with_the_clinic_in_its_claim_may_book(
    jwt_api: Api, issuer: tuple[Issuer, str]
) -> None:
    signer, _ = issuer
    start = (await jwt_api.harness.local(days=3, hour=10)).isoformat()
    token = signer.token(clinics=[fx.CLINIC_CONNECTED])
    booked = await jwt_api.post("/v1/visits", booking("J1", start), token=token)
    assert booked.status_code == 201, booked.text
    [record] = jwt_api.stores.audit.records(workflow_id=booking_reminder_id(fx.CLINIC_CONNECTED, "J1"))
    assert (record.actor, record.outcome) == ("vas-region", "ok")
    spaced = signer.token(clinics=f"{fx.CLINIC_CONNECTED} other")  # a space-separated claim works too
    assert (await jwt_api.get("/v1/visits/J1", token=spaced)).status_code == 200


async def test_a_jwt_for_another_clinic_is_403_and_starts_nothing(
    jwt_api: Api, issuer: tuple[Issuer, str]
) -> None:
    signer, _ = issuer
    start = (await jwt_api.harness.local(days=3, hour=10)).isoformat()
    refused = await jwt_api.post("/v1/visits", booking("J2", start), token=signer.token(clinics=["onh"]))
    assert refused.status_code == 403
    assert (await jwt_api.get("/v1/visits/J2", token=signer.token(clinics=["*"]))).status_code == 404


async def test_expired_tampered_foreign_or_misaddressed_jwts_are_401(
    jwt_api: Api, issuer: tuple[Issuer, str]
) -> None:
    signer, _ = issuer
    start = (await jwt_api.harness.local(days=3, hour=10)).isoformat()
    clinics = [fx.CLINIC_CONNECTED]
    good = signer.token(clinics=clinics)
    header, payload, signature = good.split(".")
    tampered = f"{header}.{payload}.{signature[:-4]}AAAA"
    foreign = signer.token(
        key=rsa.generate_private_key(public_exponent=65537, key_size=2048), clinics=clinics
    )
    for token, why in (
        (signer.token(clinics=clinics, exp=int(time.time()) - 60), "expired"),
        (tampered, "not valid"),
        (foreign, "not valid"),
        (signer.token(clinics=clinics, aud="another-service"), "not valid"),
        (signer.token(clinics=clinics, iss="https://evil.example"), "not valid"),
    ):
        refused = await jwt_api.post("/v1/visits", booking("J3", start), token=token)
        assert refused.status_code == 401, refused.text
        assert why in refused.json()["detail"]
    assert (await jwt_api.get("/v1/visits/J3", token=good)).status_code == 404
