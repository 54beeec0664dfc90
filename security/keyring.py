"""AES-256 keys by key id for the payload codec: the newest (last) encrypts, every key decrypts.

Text format, in env `PM_ENCRYPTION_KEYS` or a key file: one `key_id:base64key` entry per line, oldest
first; `#` starts a comment, blank lines are ignored, `;` also separates entries (one-line env values).

    python -m security.keyring new            print a fresh one-key keyring
    python -m security.keyring rotate FILE    append a fresh key to FILE; it becomes the current key

Error messages name key ids and entry numbers, never key material.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import secrets
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from domain.types import is_system_id

ENV_VAR = "PM_ENCRYPTION_KEYS"
KEY_FILE_NAME = "keys.txt"
KEY_BYTES = 32


class KeyringError(ValueError):
    """Unusable keyring text or key file (the message never contains key material)."""


class MissingKeyError(RuntimeError):
    """No keys were configured: payloads cannot be encrypted or decrypted."""

    def __init__(self, key_file: Path | None = None) -> None:
        where = f", or put them in {key_file} (mode 0600)" if key_file else ""
        super().__init__(
            f"no payload encryption keys: set {ENV_VAR} to `key_id:base64key` entries (newest last){where}; "
            "make a keyring with `python -m security.keyring new` (see docs/encryption.md)"
        )


@dataclass(frozen=True)
class Key:
    key_id: str
    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not is_system_id(self.key_id):
            raise KeyringError("a key id has 1-64 letters, digits, '.', '_' or '-' and starts alphanumeric")
        if len(self.secret) != KEY_BYTES:
            raise KeyringError(f"key '{self.key_id}' is not {KEY_BYTES} bytes (AES-256)")


@dataclass(frozen=True)
class Keyring:
    """An ordered set of AES-256 keys, oldest first; `current` (the last) encrypts, all decrypt."""

    keys: tuple[Key, ...]

    def __post_init__(self) -> None:
        if not self.keys:
            raise KeyringError("a keyring needs at least one key")
        seen: set[str] = set()
        for key in self.keys:
            if key.key_id in seen:
                raise KeyringError(f"key id '{key.key_id}' appears twice")
            seen.add(key.key_id)

    @property
    def current(self) -> Key:
        return self.keys[-1]

    @property
    def key_ids(self) -> list[str]:
        return [key.key_id for key in self.keys]

    def secret(self, key_id: str) -> bytes | None:
        return next((key.secret for key in self.keys if key.key_id == key_id), None)

    def __contains__(self, key_id: object) -> bool:
        return key_id in self.key_ids

    def __len__(self) -> int:
        return len(self.keys)

    @classmethod
    def from_text(cls, text: str) -> Keyring:
        """Parse `key_id:base64key` entries (lines or `;`-separated), oldest first."""
        keys = []
        entries = (part.strip() for line in text.splitlines() for part in line.split("#", 1)[0].split(";"))
        for number, entry in enumerate((e for e in entries if e), start=1):
            key_id, sep, encoded = entry.partition(":")
            if not sep:
                raise KeyringError(f"keyring entry {number} is not `key_id:base64key`")
            try:
                secret = base64.b64decode(encoded.strip().replace("-", "+").replace("_", "/"), validate=True)
            except (binascii.Error, ValueError):
                raise KeyringError(f"keyring entry {number}: the key is not valid base64") from None
            if not is_system_id(key_id.strip()):
                raise KeyringError(f"keyring entry {number}: invalid key id")
            keys.append(Key(key_id.strip(), secret))
        return cls(tuple(keys))

    def to_text(self) -> str:
        header = "# payload encryption keys, oldest first: the last one encrypts (docs/encryption.md)\n"
        return header + "".join(f"{k.key_id}:{base64.b64encode(k.secret).decode()}\n" for k in self.keys)

    @classmethod
    def generate(cls, key_id: str | None = None) -> Keyring:
        """A keyring with one fresh random key (id like `k-20261121-a1b2` unless given)."""
        return cls((Key(key_id or new_key_id(), secrets.token_bytes(KEY_BYTES)),))

    def rotated(self, key_id: str | None = None) -> Keyring:
        """A new keyring with a fresh key appended as current; the old keys still decrypt."""
        new_id = key_id
        while new_id is None or new_id in self:
            if key_id is not None:
                raise KeyringError(f"key id '{key_id}' is already in the keyring")
            new_id = new_key_id()
        return Keyring((*self.keys, Key(new_id, secrets.token_bytes(KEY_BYTES))))


def new_key_id(now: datetime | None = None) -> str:
    return f"k-{(now or datetime.now(UTC)):%Y%m%d}-{secrets.token_hex(2)}"


def read_key_file(path: Path) -> Keyring:
    """Load a key file, refusing one that group or others may access."""
    _check_private(path)
    return Keyring.from_text(path.read_text(encoding="utf-8"))


def load_keyring(env: Mapping[str, str] = os.environ, key_file: Path | None = None) -> Keyring | None:
    """The keyring from env `PM_ENCRYPTION_KEYS`, else from `key_file` if it exists, else None."""
    text = env.get(ENV_VAR, "")
    if text.strip():
        return Keyring.from_text(text)
    if key_file is not None and key_file.exists():
        return read_key_file(key_file)
    return None


def require_keyring(env: Mapping[str, str] = os.environ, key_file: Path | None = None) -> Keyring:
    """`load_keyring`, raising `MissingKeyError` when no keys are configured."""
    keyring = load_keyring(env, key_file)
    if keyring is None:
        raise MissingKeyError(key_file)
    return keyring


def ensure_local_keyring(path: Path) -> Keyring:
    """Load the local key file, creating it (mode 0600, one fresh key) on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):  # another process created it first: use theirs
            _write_private(path, Keyring.generate().to_text(), replace=False)
    return read_key_file(path)


def rotate_key_file(path: Path) -> Keyring:
    """Append a fresh current key to an existing key file (rewritten atomically, mode 0600)."""
    keyring = read_key_file(path).rotated()
    _write_private(path, keyring.to_text(), replace=True)
    return keyring


def _check_private(path: Path) -> None:
    if os.name == "nt":
        return
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise KeyringError(
            f"key file {path} is accessible by group or others (mode {mode:04o}): run `chmod 600 {path}`"
        )


def _write_private(path: Path, text: str, replace: bool) -> None:
    """Write a complete 0600 file next to `path`, then move it into place (`replace=False`: only if
    `path` does not exist, else FileExistsError), so that no reader ever sees a partial key file."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        if args == ["new"]:
            print(Keyring.generate().to_text(), end="")
            return 0
        if len(args) == 2 and args[0] == "rotate":
            keyring = rotate_key_file(Path(args[1]))
            print(f"{args[1]}: current key is now {keyring.current.key_id} ({len(keyring)} keys)")
            return 0
    except (KeyringError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print("usage: python -m security.keyring new | rotate FILE", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
