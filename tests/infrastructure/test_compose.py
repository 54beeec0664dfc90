"""docker-compose.yml and Dockerfile: no Docker engine here, so check that what they name exists and that
the topology is the one docs/deployment.md describes (Temporal on `temporalio/server` after its schema
job, the service's own PostgreSQL and migrate job, two worker replicas)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from entrypoints.codec_server import CodecSettings

ROOT = Path(__file__).resolve().parent.parent.parent
TEMPORAL_SCHEMA = "/etc/temporal/schema/postgresql/v12"


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def without_variables(value: str) -> str:
    """`value` with each `${VAR...}` replaced by a plain word (a `?` inside one would split a URL)."""
    return re.sub(r"\$\{[^}]*\}", "secret", value)


def variable(value: str) -> str:
    """The one variable `value` interpolates, e.g. POSTGRES_PASSWORD in `${POSTGRES_PASSWORD:?set ...}`."""
    names = re.findall(r"\$\{(\w+)", value)
    assert len(names) == 1, value
    return names[0]


def image_version(service: dict) -> str:
    return service["image"].rsplit(":", 1)[1]


def depends(service: dict, dependency: str) -> str:
    """The condition `service` waits for on `dependency` (a plain list means `service_started`)."""
    depends_on = service.get("depends_on") or {}
    assert dependency in depends_on, f"does not wait for {dependency}"
    return depends_on[dependency]["condition"] if isinstance(depends_on, dict) else "service_started"


def database_url(service: dict) -> tuple[str, object]:
    parts = urlsplit(without_variables(service["environment"]["PM_DATABASE_URL"]))
    assert parts.scheme in {"postgresql", "postgres"}, parts.scheme
    return parts.hostname or "", parts


def test_compose_has_the_production_services_with_pinned_images() -> None:
    services = compose()["services"]
    assert {
        "postgresql",
        "temporal-schema",
        "temporal",
        "temporal-namespace",
        "temporal-admin-tools",
        "namespace-setup",
        "temporal-ui",
        "codec-server",
        "service-db",
        "migrate",
        "worker",
    } <= set(services)
    for name, service in services.items():
        if "image" in service:
            assert re.fullmatch(r"[\w./-]+:[\w.-]+", service["image"]), name
            assert not service["image"].endswith(":latest"), name
            assert re.search(r":\d", service["image"]), f"{name}: pin a version, not a name"
        else:
            assert "build" in service, name
    assert not [name for name, s in services.items() if "temporalio/auto-setup" in s.get("image", "")]
    # The schema job's schema files must be the server's version.
    temporal_images = {
        image_version(s)
        for s in services.values()
        if s.get("image", "").startswith("temporalio/admin-tools:")
    }
    assert temporal_images == {image_version(services["temporal"])}


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
    assert "8081:8081" in codec["ports"][0]  # the UI reaches it at PM_CODEC_PUBLIC_URL, the TLS proxy
    assert codec["environment"]["PM_CODEC_ORIGINS"] == ui["TEMPORAL_CORS_ORIGINS"]


FLAGS = {"TEMPORAL_CODEC_PASS_ACCESS_TOKEN"}  # named like a secret, but a switch


def test_compose_holds_no_secrets_only_required_variables() -> None:
    for name, service in compose()["services"].items():
        environment = service.get("environment") or {}
        for key, value in environment.items():
            if key in FLAGS:
                assert value in ("true", "false"), f"{name}: {key}"
            elif re.search(r"PASSWORD|PWD|TOKEN|KEYS|SECRET", key):
                assert re.fullmatch(r"\$\{\w+:\?[^}]*\}|\$\{\w+:-\}", str(value)), f"{name}: {key}"
        if "PM_DATABASE_URL" in environment:
            url = environment["PM_DATABASE_URL"]
            assert re.match(r"postgresql://\w+:\$\{\w+:\?[^}]*\}@", url), f"{name}: PM_DATABASE_URL password"


def test_compose_publishes_each_host_port_once_and_none_from_a_replicated_service() -> None:
    services = compose()["services"]
    published = Counter(
        port.rsplit(":", 2)[-2] for service in services.values() for port in service.get("ports") or []
    )
    assert not [port for port, count in published.items() if count > 1], published
    for name, service in services.items():
        if (service.get("deploy") or {}).get("replicas", 1) > 1:
            assert not service.get("ports"), f"{name}: replicas cannot share a host port"


def test_compose_prepares_the_namespace_with_the_admin_command_before_the_worker() -> None:
    services = compose()["services"]
    setup = services["namespace-setup"]
    assert setup["command"] == ["python", "starter.py", "admin", "prepare-namespace"]
    assert setup["environment"]["TEMPORAL_ADDRESS"] == services["worker"]["environment"]["TEMPORAL_ADDRESS"]
    condition = services["worker"]["depends_on"]["namespace-setup"]["condition"]
    assert condition == "service_completed_successfully"
    # The namespace exists first (auto-setup created it; temporalio/server does not).
    assert depends(setup, "temporal-namespace") == "service_completed_successfully"
    creating = services["temporal-namespace"]
    assert creating["image"].startswith("temporalio/admin-tools:")
    assert depends(creating, "temporal") == "service_healthy"
    script = "\n".join(creating["command"])
    assert "temporal operator namespace create --namespace default" in script
    assert "cluster health" in script


def test_temporal_runs_from_the_server_image_after_its_schema_job() -> None:
    services = compose()["services"]
    temporal = services["temporal"]
    assert temporal["image"].startswith("temporalio/server:")
    assert depends(temporal, "temporal-schema") == "service_completed_successfully"
    assert "healthcheck" in temporal
    env = temporal["environment"]
    assert env["DB"] == "postgres12" and env["POSTGRES_SEEDS"] == "postgresql"
    dynamic_config = env["DYNAMIC_CONFIG_FILE_PATH"]
    mounts = [mount.split(":") for mount in temporal.get("volumes") or []]
    mounted = [(source, target) for source, target, *_ in mounts if dynamic_config.startswith(target + "/")]
    assert mounted, "the dynamic config file is not mounted"
    source, target = mounted[0]
    assert (ROOT / source / Path(dynamic_config).relative_to(target)).is_file()


def test_the_schema_job_sets_up_both_temporal_databases_with_the_sql_tool() -> None:
    services = compose()["services"]
    job = services["temporal-schema"]
    assert job["image"].startswith("temporalio/admin-tools:")
    assert depends(job, "postgresql") == "service_healthy"
    env, server = job["environment"], services["temporal"]["environment"]
    assert env["SQL_PLUGIN"] == server["DB"] and env["SQL_HOST"] == server["POSTGRES_SEEDS"]
    assert env["SQL_USER"] == server["POSTGRES_USER"]
    assert variable(env["SQL_PASSWORD"]) == variable(server["POSTGRES_PWD"])
    lines = [line.split() for line in "\n".join(job["command"]).splitlines() if "temporal-sql-tool" in line]
    for database, schema in (("temporal", "temporal"), ("temporal_visibility", "visibility")):
        steps = [line[3:] for line in lines if line[:3] == ["temporal-sql-tool", "--db", database]]
        assert steps == [
            ["create"],
            ["setup-schema", "-v", "0.0"],
            ["update-schema", "-d", f"{TEMPORAL_SCHEMA}/{schema}/versioned"],
        ], database


def test_the_service_has_its_own_database_distinct_from_temporals() -> None:
    services = compose()["services"]
    host, url = database_url(services["worker"])
    assert host in services and host != services["temporal"]["environment"]["POSTGRES_SEEDS"]
    database = services[host]
    assert database["image"].startswith("postgres:") and "healthcheck" in database
    env = database["environment"]
    assert url.username == env["POSTGRES_USER"] and url.path == f"/{env['POSTGRES_DB']}"
    assert url.port == 5432
    own = variable(env["POSTGRES_PASSWORD"])
    assert own != variable(services["postgresql"]["environment"]["POSTGRES_PASSWORD"])
    assert variable(services["worker"]["environment"]["PM_DATABASE_URL"]) == own
    data = {m.split(":")[0] for m in database["volumes"]}
    assert data and not data & {m.split(":")[0] for m in services["postgresql"]["volumes"]}


def test_migrations_run_once_before_the_workers() -> None:
    services = compose()["services"]
    migrate, worker = services["migrate"], services["worker"]
    assert migrate["command"] == ["python", "starter.py", "admin", "migrate"]
    assert migrate["build"] == worker["build"]
    assert "deploy" not in migrate and "restart" not in migrate
    host, _ = database_url(migrate)
    assert depends(migrate, host) == "service_healthy"
    assert migrate["environment"]["PM_DATABASE_URL"] == worker["environment"]["PM_DATABASE_URL"]


def test_the_worker_runs_two_replicas_on_the_service_database() -> None:
    services = compose()["services"]
    worker = services["worker"]
    assert worker["deploy"]["replicas"] == 2
    host, _ = database_url(worker)
    assert host == "service-db"
    assert depends(worker, "migrate") == "service_completed_successfully"
    assert depends(worker, "namespace-setup") == "service_completed_successfully"
    assert "container_name" not in worker and not worker.get("ports")
    assert worker["environment"]["PM_METRICS_BIND"].endswith(":9464") and "9464" in worker["expose"]
    # One shared letters folder for both replicas: a named volume, not a host folder per replica.
    volumes = set(compose()["volumes"])
    data_dir = worker["environment"]["PM_DATA_DIR"]
    assert [m for m in worker["volumes"] if m.split(":")[0] in volumes and m.split(":")[1] == data_dir]


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


def test_compose_serves_the_http_api_on_the_shared_stores_after_the_migrations() -> None:
    services = compose()["services"]
    api, worker = services["api"], services["worker"]
    assert api["command"] == ["python", "-m", "entrypoints.http"]
    assert api["environment"]["PM_DATABASE_URL"] == worker["environment"]["PM_DATABASE_URL"]
    assert api["environment"]["PM_API_HOST"] == "0.0.0.0" and api["ports"] == ["127.0.0.1:8000:8000"]
    assert api["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert api["environment"]["PM_ENCRYPTION_KEYS"].startswith("${PM_ENCRYPTION_KEYS:?")
    # the public URL (required): absolute URLs and the Host check; the staff page's OpenID provider;
    # sessions in the service database, so no cookie-signing secret
    assert api["environment"]["PM_PUBLIC_URL"].startswith("${PM_PUBLIC_URL:?")
    assert "PM_WEB_SESSION_SECRET" not in api["environment"]
    assert {"PM_OIDC_METADATA_URL", "PM_OIDC_CLIENT_ID", "PM_OIDC_CLIENT_SECRET"} <= set(api["environment"])
    assert "PM_WEB_DEMO_LOGIN" not in api["environment"]


def test_the_web_ui_passes_each_persons_access_token_to_the_codec_server_which_checks_it() -> None:
    """Who decodes is a named person (docs/security.md, Who may decode): the UI signs operators in at
    the region's OpenID provider and passes their access token; the codec server verifies it against
    the same provider and writes every decode to the service's audit trail. No shared token."""
    services = compose()["services"]
    ui, codec = services["temporal-ui"]["environment"], services["codec-server"]
    env = codec["environment"]
    assert ui["TEMPORAL_AUTH_ENABLED"] == "true" and ui["TEMPORAL_AUTH_TYPE"] == "oidc"
    assert ui["TEMPORAL_CODEC_PASS_ACCESS_TOKEN"] == "true"
    assert "TEMPORAL_CODEC_INCLUDE_CREDENTIALS" not in ui  # no login proxy's cookie any more
    # The UI passes the token to an https endpoint only: required, and said so.
    assert re.fullmatch(r"\$\{PM_CODEC_PUBLIC_URL:\?[^}]*https[^}]*\}", ui["TEMPORAL_CODEC_ENDPOINT"])
    for name in ("PM_CODEC_OIDC_ISSUER", "PM_CODEC_OIDC_AUDIENCE", "PM_CODEC_OIDC_JWKS_URL"):
        assert env[name].startswith("${" + name + ":?"), name
    assert variable(ui["TEMPORAL_AUTH_ISSUER_URL"]) == variable(env["PM_CODEC_OIDC_ISSUER"])
    assert variable(ui["TEMPORAL_AUTH_PROVIDER_URL"]) == variable(env["PM_CODEC_OIDC_ISSUER"])
    assert not {"PM_CODEC_TOKEN", "PM_CODEC_LOCAL_UI"} & set(env)
    assert env["PM_DATABASE_URL"] == services["worker"]["environment"]["PM_DATABASE_URL"]  # the audit trail
    assert depends(codec, "migrate") == "service_completed_successfully"
    # The codec server accepts what compose gives it, as its own start would read it.
    settings = CodecSettings.from_env({key: without_variables(str(value)) for key, value in env.items()})
    assert settings.oidc is not None and settings.host == "0.0.0.0" and settings.database_url
