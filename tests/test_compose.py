"""docker-compose.yml and Dockerfile: no Docker engine here, so check that what they name exists."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_has_the_production_services_with_pinned_images() -> None:
    services = compose()["services"]
    assert {"postgresql", "temporal", "temporal-admin-tools", "temporal-ui", "worker", "codec-server"} <= set(
        services
    )
    for name, service in services.items():
        if "image" in service:
            assert re.fullmatch(r"[\w./-]+:[\w.-]+", service["image"]), name
            assert not service["image"].endswith(":latest"), name
        else:
            assert "build" in service, name


def test_compose_references_are_consistent() -> None:
    document = compose()
    services, volumes = document["services"], set(document.get("volumes") or {})
    for name, service in services.items():
        for dependency in service.get("depends_on") or []:
            assert dependency in services, f"{name} depends on unknown {dependency}"
        for mount in service.get("volumes") or []:
            source = mount.split(":")[0]
            assert source in volumes or (ROOT / source).exists(), f"{name}: volume {source}"
        for port in service.get("ports") or []:
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond the host"
    worker = services["worker"]
    assert worker["environment"]["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert worker["environment"]["TEMPORAL_TASK_QUEUE"] == "patient-messaging"
    assert (
        "PM_ENCRYPTION_KEYS" in worker["environment"]
        and "PM_ENCRYPTION_KEYS" in services["codec-server"]["environment"]
    )
    ui, codec = services["temporal-ui"]["environment"], services["codec-server"]
    assert ui["TEMPORAL_CODEC_ENDPOINT"].rstrip("}").endswith(":8081") and "8081:8081" in codec["ports"][0]
    assert codec["environment"]["PM_CODEC_ORIGINS"] == ui["TEMPORAL_CORS_ORIGINS"]


def test_compose_prepares_the_namespace_with_the_admin_command_before_the_worker() -> None:
    services = compose()["services"]
    setup = services["namespace-setup"]
    assert setup["command"] == ["python", "starter.py", "admin", "prepare-namespace"]
    assert setup["environment"]["TEMPORAL_ADDRESS"] == services["worker"]["environment"]["TEMPORAL_ADDRESS"]
    condition = services["worker"]["depends_on"]["namespace-setup"]["condition"]
    assert condition == "service_completed_successfully"


def test_dockerfile_copies_only_files_that_exist() -> None:
    build = compose()["services"]["worker"]["build"]
    context = ROOT / build["context"]
    dockerfile = (context / build["dockerfile"]).read_text()
    copied = [
        part for line in dockerfile.splitlines() if line.startswith("COPY") for part in line.split()[1:-1]
    ]
    assert copied
    for source in copied:
        assert (context / source).exists(), source
    assert re.search(r'CMD \["python", "worker.py"\]', dockerfile)
