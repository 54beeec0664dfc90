"""A real uvicorn server on 127.0.0.1 in a thread of this process, for tests and benchmarks of the
HTTP API: `with UvicornThread(app) as server: server.url`."""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Any

import uvicorn

from testkit.processes import HOST, free_port


class UvicornThread:
    def __init__(self, app: Any, port: int | None = None, start_timeout: float = 30.0) -> None:
        self.port = port or free_port()
        self.url = f"http://{HOST}:{self.port}"
        config = uvicorn.Config(app, host=HOST, port=self.port, log_level="warning", lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="uvicorn", daemon=True)
        self._start_timeout = start_timeout

    def __enter__(self) -> UvicornThread:
        self._thread.start()
        deadline = time.monotonic() + self._start_timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the HTTP API did not start on {self.url}")
            time.sleep(0.02)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)
