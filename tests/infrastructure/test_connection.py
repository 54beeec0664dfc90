"""How processes reach Temporal: TLS / mTLS / API key from settings, keys required outside local mode."""

from __future__ import annotations

from pathlib import Path

import pytest

from infrastructure.config import Settings
from infrastructure.temporal_client import keyring_for, tls_config
from security.keyring import MissingKeyError


def test_plain_connection_when_nothing_is_configured(tmp_path: Path) -> None:
    assert tls_config(Settings(data_dir=tmp_path)) is False


def test_mtls_reads_the_certificate_files(tmp_path: Path) -> None:
    for name in ("client.pem", "client.key", "ca.pem"):
        (tmp_path / name).write_bytes(f"-----{name}-----".encode())
    settings = Settings(
        data_dir=tmp_path,
        tls_cert=tmp_path / "client.pem",
        tls_key=tmp_path / "client.key",
        tls_ca=tmp_path / "ca.pem",
        tls_server_name="temporal.region.example",
    )
    tls = tls_config(settings)
    assert not isinstance(tls, bool)
    assert tls.client_cert == b"-----client.pem-----" and tls.client_private_key == b"-----client.key-----"
    assert tls.server_root_ca_cert == b"-----ca.pem-----" and tls.domain == "temporal.region.example"


def test_an_api_key_implies_tls_with_the_system_roots(tmp_path: Path) -> None:
    tls = tls_config(Settings(data_dir=tmp_path, api_key="secret"))
    assert not isinstance(tls, bool) and tls.server_root_ca_cert is None


def test_outside_local_mode_a_missing_key_is_refused_with_instructions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PM_ENCRYPTION_KEYS", raising=False)
    with pytest.raises(MissingKeyError, match="PM_ENCRYPTION_KEYS"):
        keyring_for(Settings(data_dir=tmp_path))
    assert not (tmp_path / "keys.txt").exists()


def test_local_mode_creates_a_private_key_file_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PM_ENCRYPTION_KEYS", raising=False)
    first = keyring_for(Settings(data_dir=tmp_path, local=True))
    assert (tmp_path / "keys.txt").stat().st_mode & 0o777 == 0o600
    assert keyring_for(Settings(data_dir=tmp_path, local=True)).key_ids == first.key_ids
