"""How every process reaches Temporal: address, namespace, TLS / mTLS or API key, and the data
converter with payload encryption — the same for the worker, every door and `connect()`."""

from __future__ import annotations

from typing import Any

from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.service import TLSConfig

from infrastructure.config import Settings
from security.codec import data_converter
from security.keyring import Keyring, ensure_local_keyring, load_keyring, require_keyring


def keyring_for(settings: Settings) -> Keyring:
    """The encryption keys: from PM_ENCRYPTION_KEYS or the key file; created on first local start only.

    Outside local mode a missing key is an error that says how to provide one (no silent plaintext).
    """
    if settings.local:
        return load_keyring(key_file=None) or ensure_local_keyring(settings.key_file)
    return require_keyring(key_file=settings.key_file)


def tls_config(settings: Settings) -> TLSConfig | bool:
    if not (settings.tls or settings.tls_cert or settings.tls_ca or settings.api_key):
        return False
    read = lambda path: path.read_bytes() if path else None  # noqa: E731
    return TLSConfig(
        server_root_ca_cert=read(settings.tls_ca),
        client_cert=read(settings.tls_cert),
        client_private_key=read(settings.tls_key),
        domain=settings.tls_server_name,
    )


def metrics_runtime(settings: Settings) -> Runtime | None:
    """A runtime exporting the SDK's metrics (and the message counters) for Prometheus."""
    if not settings.metrics_bind:
        return None
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=settings.metrics_bind)))


def api_metrics_runtime(settings: Settings) -> Runtime | None:
    """The API's runtime exporting its metrics (`patient_replies`, issue 28) for Prometheus."""
    if not settings.api_metrics_bind:
        return None
    return Runtime(
        telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=settings.api_metrics_bind))
    )


async def connect_client(settings: Settings, runtime: Runtime | None = None) -> Client:
    options: dict[str, Any] = {
        "namespace": settings.namespace,
        "data_converter": data_converter(keyring_for(settings)),
        "tls": tls_config(settings),
        "api_key": settings.api_key,
    }
    if runtime is not None:
        options["runtime"] = runtime
    try:
        return await Client.connect(settings.temporal_address, **options)
    except RuntimeError as err:
        raise ConnectionError(f"cannot reach Temporal at {settings.temporal_address}: {err}") from None


async def connect(settings: Settings | None = None) -> Client:
    """A Temporal client configured exactly as the worker's (address, namespace, TLS, data converter
    with payload encryption); settings from the environment unless given."""
    return await connect_client(settings or Settings.from_env())
