"""The layout's import rules: a layer imports only the layers beneath it (README, Layout).

    domain          pure rules: nothing of Temporal, no I/O
    contracts       domain (+ Temporal's common types and activity signatures)
    workflows       domain, contracts — never an adapter or an activity implementation
    adapters        domain — never workflows, activities or the doors
    activities      domain, contracts, adapters
    application     domain, contracts, workflows (typed references), adapters (ports)
    infrastructure  everything below the application layer
    entrypoints     the doors: domain, contracts, application, infrastructure, security — never a
                    workflow, an adapter or the demo data (they reach those through the application
                    layer and `infrastructure.stores.Stores`); the HTTP API (`entrypoints/http`) and
                    the staff page (`entrypoints/web`) do not import each other (both use
                    `entrypoints/shared`; `entrypoints/asgi.py` mounts both)
    testkit         anything but bench, tests and the doors (test support that bench and tests share)
    bench, tests    anything, but neither imports the other (what both need is in testkit)
    dev.py          infrastructure, security and the demo data only: it sets up and starts the rest

Every import counts, also those inside functions and `workflow.unsafe.imports_passed_through()`.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROJECT = {
    "domain",
    "contracts",
    "workflows",
    "activities",
    "adapters",
    "application",
    "infrastructure",
    "security",
    "entrypoints",
    "demo",
    "bench",
    "tests",
    "testkit",
    "worker",
    "starter",
    "dev",
}
ALLOWED: dict[str, set[str]] = {
    "domain": {"domain"},
    "contracts": {"domain", "contracts"},
    "workflows": {"domain", "contracts", "workflows"},
    "adapters": {"domain", "security", "adapters"},  # the keyring seals what the stores keep (at rest)
    "security": {"domain", "security"},
    "activities": {"domain", "contracts", "adapters", "activities"},
    "application": {"domain", "contracts", "workflows", "adapters", "application"},
    "infrastructure": {
        "domain",
        "contracts",
        "workflows",
        "activities",
        "adapters",
        "security",
        "infrastructure",
    },
    "demo": {"domain", "contracts", "adapters", "application", "infrastructure", "demo"},
    "entrypoints": {"domain", "contracts", "application", "infrastructure", "security", "entrypoints"},
    "testkit": PROJECT - {"bench", "tests", "entrypoints"},
}
BENCH_AND_TESTS: dict[str, set[str]] = {
    "bench": PROJECT - {"tests"},
    "tests": PROJECT - {"bench"},
}
"""The benchmarks and the tests share their support through testkit, never by importing each other."""
DOORS_APART = {"entrypoints/http": "entrypoints.web", "entrypoints/web": "entrypoints.http"}
"""The HTTP API and the staff page share `entrypoints.shared`, never each other's modules."""
DEV_PY = {"infrastructure", "security", "demo"}
"""What `dev.py` may import of the project: it sets up the environment and starts the processes."""
PURE_THIRD_PARTY = {"pydantic", "personnummer", "phonenumbers"}
"""What the domain may import beyond the standard library and itself."""
NO_IO_IN_WORKFLOWS = {"httpx", "aiohttp", "sqlite3", "fpdf", "cryptography", "structlog", "socket", "psycopg"}


def modules(package: str, root: Path = ROOT) -> list[Path]:
    return sorted((root / package).rglob("*.py"))


def imported(path: Path) -> set[str]:
    """The top-level names of everything the module imports (absolute imports only, as the code uses)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names - {"__future__"}


def imported_modules(path: Path) -> set[str]:
    """The dotted names of everything the module imports, as far as the import names them
    (`from entrypoints import web` imports `entrypoints.web`)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def crossings(folder: str, other: str, root: Path = ROOT) -> list[str]:
    """`path imports name` for each import of a module under `folder` of `other` or below it."""
    return [
        f"{path.relative_to(root)} imports {name}"
        for path in sorted((root / folder).rglob("*.py"))
        for name in sorted(imported_modules(path))
        if name == other or name.startswith(other + ".")
    ]


def dev_py_violations(root: Path = ROOT) -> list[str]:
    return [f"dev.py imports {name}" for name in sorted(imported(root / "dev.py") & PROJECT - DEV_PY)]


def violations(
    package: str, allowed_project: set[str], allowed_other: set[str] | None = None, root: Path = ROOT
) -> list[str]:
    """`path imports name` for each import of the package outside what it may import; with
    `allowed_other`, also each library outside the standard library and that set."""

    def refused(name: str) -> bool:
        if name in PROJECT:
            return name not in allowed_project
        return allowed_other is not None and name not in sys.stdlib_module_names | allowed_other

    return [
        f"{path.relative_to(root)} imports {name}"
        for path in modules(package, root)
        for name in sorted(imported(path))
        if refused(name)
    ]


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_each_layer_imports_only_the_layers_beneath_it(package: str) -> None:
    assert modules(package), f"no package {package}"
    assert violations(package, ALLOWED[package]) == []


@pytest.mark.parametrize("package", sorted(BENCH_AND_TESTS))
def test_bench_and_tests_do_not_import_each_other(package: str) -> None:
    assert modules(package), f"no package {package}"
    assert violations(package, BENCH_AND_TESTS[package]) == []


@pytest.mark.parametrize("folder", sorted(DOORS_APART))
def test_the_http_api_and_the_staff_page_do_not_import_each_other(folder: str) -> None:
    assert modules(folder), f"no package {folder}"
    assert crossings(folder, DOORS_APART[folder]) == []


def test_dev_py_imports_only_what_sets_up_and_starts_the_rest() -> None:
    assert dev_py_violations() == []


def test_the_domain_imports_nothing_of_temporal_and_no_io_library() -> None:
    assert violations("domain", ALLOWED["domain"], PURE_THIRD_PARTY) == []


def test_workflows_import_no_io_library() -> None:
    found = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in modules("workflows")
        for name in imported(path) & NO_IO_IN_WORKFLOWS
    ]
    assert found == []


def test_the_root_holds_only_the_entrypoints_the_readme_names() -> None:
    assert sorted(p.name for p in ROOT.glob("*.py")) == ["dev.py", "starter.py", "worker.py"]


def test_the_import_rules_catch_an_upward_import_also_inside_a_block(tmp_path: Path) -> None:
    """The checker itself: a domain module importing an adapter inside a block, and Temporal, is refused."""
    (tmp_path / "domain").mkdir()
    (tmp_path / "domain" / "bad.py").write_text(
        "import datetime\nimport temporalio\nif True:\n    from adapters.sms import SmsGateway\n"
    )
    found = violations("domain", ALLOWED["domain"], PURE_THIRD_PARTY, root=tmp_path)
    assert found == ["domain/bad.py imports adapters", "domain/bad.py imports temporalio"]


def test_the_rules_catch_the_benchmarks_importing_the_tests(tmp_path: Path) -> None:
    """The checker itself: a benchmark importing a test helper inside a function is refused."""
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "bad.py").write_text(
        "import testkit.rig\ndef f():\n    from tests.conftest import venv_binary\n"
    )
    assert violations("bench", BENCH_AND_TESTS["bench"], root=tmp_path) == ["bench/bad.py imports tests"]


def test_the_rules_catch_a_door_importing_an_adapter_a_workflow_or_the_demo(tmp_path: Path) -> None:
    """The checker itself: a door importing an adapter, a workflow (inside a function) or the demo
    data, and the staff page importing the HTTP API's modules, are refused."""
    (tmp_path / "entrypoints" / "web").mkdir(parents=True)
    (tmp_path / "entrypoints" / "http").mkdir()
    (tmp_path / "entrypoints" / "http" / "bad.py").write_text(
        "from adapters.audit import ApiKeys\ndef f():\n    from workflows.reminder.process import Reminder\n"
    )
    (tmp_path / "entrypoints" / "web" / "bad.py").write_text(
        "from demo.data import DEMO_STAFF\nfrom entrypoints import http\nimport entrypoints.http.auth\n"
    )
    assert violations("entrypoints", ALLOWED["entrypoints"], root=tmp_path) == [
        "entrypoints/http/bad.py imports adapters",
        "entrypoints/http/bad.py imports workflows",
        "entrypoints/web/bad.py imports demo",
    ]
    assert crossings("entrypoints/web", "entrypoints.http", root=tmp_path) == [
        "entrypoints/web/bad.py imports entrypoints.http",
        "entrypoints/web/bad.py imports entrypoints.http.auth",
    ]
    assert crossings("entrypoints/http", "entrypoints.web", root=tmp_path) == []


def test_the_rules_catch_dev_py_importing_the_test_support(tmp_path: Path) -> None:
    """The checker itself: `dev.py` importing testkit inside a function is refused."""
    (tmp_path / "dev.py").write_text("import os\ndef f():\n    from testkit.postgres import find_binaries\n")
    assert dev_py_violations(root=tmp_path) == ["dev.py imports testkit"]
