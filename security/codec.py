"""The Temporal payload codec: AES-256-GCM over each whole serialized payload, before it leaves the process.

An encrypted payload has metadata `encoding: binary/encrypted` and `encryption-key-id: <key id>` (the
convention of the Temporal encryption sample) and data `nonce (12 bytes) || ciphertext+tag`. Decoding
picks the key by its id, so payloads written under older keys stay readable after a rotation.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes, PayloadCodec

from security.keyring import Keyring

ENCODING = b"binary/encrypted"
KEY_ID_KEY = "encryption-key-id"
NONCE_BYTES = 12
TAG_BYTES = 16


class PayloadDecryptionError(ValueError):
    """An encrypted payload cannot be decrypted (the message names the key id only)."""


class UnknownKeyIdError(PayloadDecryptionError):
    """The payload was encrypted with a key that is not in the keyring."""


class EncryptionCodec(PayloadCodec):
    """Encrypts with the keyring's current key; decrypts with whichever key the payload names."""

    def __init__(self, keyring: Keyring) -> None:
        super().__init__()
        self.keyring = keyring
        self._ciphers = {key.key_id: AESGCM(key.secret) for key in keyring.keys}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        key_id = self.keyring.current.key_id
        cipher = self._ciphers[key_id]
        metadata = {"encoding": ENCODING, KEY_ID_KEY: key_id.encode()}
        encoded = []
        for payload in payloads:
            nonce = os.urandom(NONCE_BYTES)
            data = nonce + cipher.encrypt(nonce, payload.SerializeToString(), None)
            encoded.append(Payload(metadata=metadata, data=data))
        return encoded

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._decrypt(p) if p.metadata.get("encoding") == ENCODING else p for p in payloads]

    def _decrypt(self, payload: Payload) -> Payload:
        key_id = payload.metadata.get(KEY_ID_KEY, b"").decode("utf-8", "replace")[:64]
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise UnknownKeyIdError(
                f"payload is encrypted with key id '{key_id}', which is not in this keyring: "
                "add that key to PM_ENCRYPTION_KEYS or the key file (see docs/encryption.md)"
            )
        if len(payload.data) < NONCE_BYTES + TAG_BYTES:
            raise PayloadDecryptionError(
                f"payload with key id '{key_id}' is too short to be encrypted ({len(payload.data)} bytes)"
            )
        try:
            plaintext = cipher.decrypt(payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:], None)
            return Payload.FromString(plaintext)
        except (InvalidTag, DecodeError):
            raise PayloadDecryptionError(
                f"payload with key id '{key_id}' does not decrypt: wrong key for that id or altered data"
            ) from None


def data_converter(keyring: Keyring | None) -> DataConverter:
    """The project's pydantic converter, encrypting every payload when a keyring is given.

    With a keyring, failure messages and stack traces also move into an (encrypted) payload, since
    Temporal stores them in the clear otherwise.
    """
    if keyring is None:
        return pydantic_data_converter
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=EncryptionCodec(keyring),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )
