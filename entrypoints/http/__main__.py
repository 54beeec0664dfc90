"""Serve the HTTP API and the staff page (`entrypoints.asgi`) with uvicorn on `PM_API_HOST:PM_API_PORT`
(127.0.0.1:8000).

Production runs it behind TLS termination (a reverse proxy or the platform's ingress), as many
replicas as needed: the state is in Temporal and the service database. `--proxy-headers` trusts
`X-Forwarded-*` from `FORWARDED_ALLOW_IPS` only (uvicorn's setting).
"""

from __future__ import annotations

import sys

import uvicorn
from pydantic import ValidationError

from domain.types import describe_validation_error
from entrypoints.asgi import create_app
from infrastructure.config import Settings
from infrastructure.logging_setup import configure_logging
from security.files import private_process, tighten


def main() -> int:
    private_process()  # before anything is written: every file 0600, every folder 0700
    try:
        settings = Settings.from_env()
    except ValidationError as err:
        print(f"error: invalid settings: {describe_validation_error(err)}", file=sys.stderr)
        return 2
    configure_logging(settings.log_format)
    tighten(settings.data_dir)
    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        proxy_headers=True,
        http="httptools",  # the C parser: less CPU per request than the pure-Python h11
        server_header=False,
        log_config=None,  # uvicorn's loggers go through the project's logging (and its redaction)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
