"""The rig of the doors' benchmarks: a fresh dev server, the real worker and the HTTP API (with the
staff page) as separate processes on loopback, a client and the stores of one fresh data folder;
everything stopped and the folder removed at the end, however the benchmark ends."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio.client import Client

from infrastructure.config import Settings
from infrastructure.stores import Stores
from testkit.processes import HOST, PYTHON, Child, DevServer, free_port
from testkit.real_worker import connect_client, prepare_keys, real_worker, worker_env


@dataclass
class ApiRig:
    data_dir: Path
    client: Client
    stores: Stores
    server: DevServer
    worker: Child
    api: Child
    api_url: str


@asynccontextmanager
async def api_rig(prefix: str, directory: dict[str, Any], **api_env: str) -> AsyncIterator[ApiRig]:
    """The rig with `directory` loaded; `api_env`: more settings of the API process."""
    data_dir = Path(tempfile.mkdtemp(prefix=prefix))
    server = DevServer(data_dir)
    port = free_port()
    url = f"http://{HOST}:{port}"
    worker = real_worker(server.address, data_dir)
    env = worker_env(server.address, data_dir, PM_API_PORT=str(port), PM_PUBLIC_URL=url, **api_env)
    api = Child("api", [PYTHON, "-m", "entrypoints.http"], data_dir / "api.log", env)
    stores = Stores(Settings(data_dir=data_dir))
    try:
        prepare_keys(data_dir)
        server.start()
        client = await connect_client(server.address, data_dir)
        stores.directory.load_document(directory)
        worker.start()
        worker.wait_for_log("worker_started", timeout=60)
        api.start()
        api.wait_for_log("api_started", timeout=60)
        yield ApiRig(data_dir, client, stores, server, worker, api, url)
    finally:
        stores.close()
        for child in (api, worker):
            child.stop()
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
