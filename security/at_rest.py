"""Patient data in the service's own stores, sealed with the payload keyring (AES-256-GCM).

A sealed value is text, `pm-sealed:v1:<key id>:<base64 of nonce || ciphertext+tag>`, so it fits the
TEXT column it replaces and names the key that opens it (a rotation leaves old values readable, as
for payloads: docs/encryption.md). The associated data binds it to its place (e.g. the table, the
row's key and clinic): a value copied into another row does not open. Messages name key ids only.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from security.keyring import Keyring

PREFIX = "pm-sealed:v1:"
NONCE_BYTES = 12
TAG_BYTES = 16


class SealedDataError(ValueError):
    """A sealed value does not open (unknown key id, altered, or moved to another place)."""


def is_sealed(text: str) -> bool:
    return text.startswith(PREFIX)


def seal(keyring: Keyring, plaintext: bytes, place: str) -> str:
    """`plaintext` encrypted with the keyring's current key, bound to `place`."""
    key = keyring.current
    nonce = os.urandom(NONCE_BYTES)
    data = nonce + AESGCM(key.secret).encrypt(nonce, plaintext, place.encode())
    return f"{PREFIX}{key.key_id}:{base64.b64encode(data).decode('ascii')}"


def unseal(keyring: Keyring, text: str, place: str) -> bytes:
    """The plaintext of a value `seal` made for `place`, with whichever key of the keyring it names."""
    key_id, sep, encoded = text.removeprefix(PREFIX).partition(":")
    if not is_sealed(text) or not sep:
        raise SealedDataError("not a sealed value")
    secret = keyring.secret(key_id)
    if secret is None:
        raise SealedDataError(
            f"stored data is sealed with key id '{key_id[:64]}', which is not in this keyring: "
            "add that key to PM_ENCRYPTION_KEYS or the key file (docs/encryption.md)"
        )
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise SealedDataError(f"stored data sealed with key id '{key_id}' is not base64") from None
    if len(data) < NONCE_BYTES + TAG_BYTES:
        raise SealedDataError(f"stored data sealed with key id '{key_id}' is too short")
    try:
        return AESGCM(secret).decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], place.encode())
    except InvalidTag:
        raise SealedDataError(
            f"stored data sealed with key id '{key_id}' does not open: altered, or not of this row"
        ) from None
