"""The rig: a fresh dev server, the directory with fake patients, the real worker and a client, all on
loopback (`testkit.processes`, `testkit.real_worker`), and the storm of bookings whose reminders fall
due at one moment."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.client import Client

from testkit.population import RECEPTION, clinic_due_at, fake_pnr
from testkit.processes import Child, DevServer
from testkit.real_worker import connect_client, prepare_keys, real_worker
from testkit.waiting import bounded_gather, log


class Rig:
    """A fresh dev server, the directory with `patients` fake patients, the worker (and `replicas - 1`
    more worker processes on the same data folder and task queue, as docker-compose.yml runs two) and
    a client."""

    def __init__(
        self, data_dir: Path, worker_module: str | None = None, replicas: int = 1, **worker_extra: str
    ) -> None:
        self.data_dir = data_dir
        self.server = DevServer(data_dir)
        self.worker = real_worker(self.server.address, data_dir, worker_module, **worker_extra)
        self.replicas = [
            real_worker(self.server.address, data_dir, worker_module, f"worker-{i}", **worker_extra)
            for i in range(2, replicas + 1)
        ]
        from adapters.directory import SqliteDirectory

        self.directory = SqliteDirectory(data_dir / "directory.sqlite3")
        self.client: Client

    async def start(self, patients: list[dict[str, Any]]) -> None:
        log(f"data folder {self.data_dir}; dev server on {self.server.address}")
        prepare_keys(self.data_dir)
        self.server.start()
        self.client = await connect_client(self.server.address, self.data_dir)
        self.directory.load_document({"clinics": [], "patients": patients})
        self.start_worker()
        for replica in self.replicas:
            replica.start()
            replica.wait_for_log("worker_started", timeout=60)

    @property
    def workers(self) -> list[Child]:
        return [self.worker, *self.replicas]

    def start_worker(self) -> None:
        self.worker.start()
        self.worker.wait_for_log("worker_started", timeout=60)

    async def stop(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.server.stop()

    async def book_storm(
        self, prefix: str, indexes: Sequence[int], due: datetime, clinic_id: str | None = None
    ) -> float:
        """Book one visit per patient index, 3 h after `due`, at a clinic whose S6 moment is `due`."""
        import application as app
        from domain.booking import VisitBooking

        visit = due + timedelta(hours=3)
        clinic_id = clinic_id or f"storm-{prefix}"
        self.directory.load_document({"clinics": [clinic_due_at(clinic_id, due, visit)], "patients": []})

        async def book(i: int) -> None:
            booking = VisitBooking(
                booking_id=f"{prefix}{i}",
                patient_id=fake_pnr(i),
                clinic_id=clinic_id,
                reception_id=RECEPTION,
                start=visit,
            )
            await app.book_visit(self.client, "patient-messaging", self.directory, booking)

        return await bounded_gather(indexes, book)
