"""Workflow code is deterministic: `workflows/`, and the `domain/` and `contracts/` it calls, read no
clock but `workflow.now()`, draw no random numbers or uuids, and touch no environment, file, process,
thread or network.

The sandbox of the workflow tests checks this at run time on the paths a test takes; this scan checks
every line of our own code, also on paths no test takes (issue 13: part of the guard that lets the
worker run unsandboxed, docs/changing-workflows.md).
Libraries that workflow code calls (pydantic, zoneinfo, phonenumbers, personnummer) are checked only
by the sandboxed workflow tests.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
WORKFLOW_CODE = sorted(
    p for package in ("workflows", "domain", "contracts") for p in (ROOT / package).rglob("*.py")
)
FORBIDDEN_MODULES = {
    "random", "secrets", "uuid", "time", "os", "sys", "subprocess", "socket", "threading", "multiprocessing",
    "sqlite3", "psycopg", "httpx", "requests", "urllib", "pathlib", "shutil", "tempfile", "io",
}  # fmt: skip
CLOCK_CALLS = {"now", "utcnow", "today"}
FORBIDDEN_BUILTINS = {"open", "input", "print", "exec", "eval"}


def problems(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        modules = []
        if isinstance(node, ast.Import):
            modules = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = [node.module]
        found += [f"imports {m}" for m in modules if m.split(".")[0] in FORBIDDEN_MODULES]
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in CLOCK_CALLS:
                owner = func.value
                if not (isinstance(owner, ast.Name) and owner.id == "workflow"):
                    found.append(f"line {node.lineno}: calls {ast.unparse(func)}()")
            if isinstance(func, ast.Name) and func.id in FORBIDDEN_BUILTINS:
                found.append(f"line {node.lineno}: calls {func.id}()")
    return found


@pytest.mark.parametrize("path", WORKFLOW_CODE, ids=[str(p.relative_to(ROOT)) for p in WORKFLOW_CODE])
def test_workflow_code_reads_no_clock_randomness_or_outside_world(path: Path) -> None:
    assert problems(path) == []


def test_the_scan_finds_what_it_forbids(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import uuid\nfrom time import monotonic\nfrom datetime import datetime\n"
        "x = datetime.now()\ny = workflow.now()\nopen('f')\n"
    )
    assert problems(bad) == [
        "imports uuid",
        "imports time",
        "line 4: calls datetime.now()",
        "line 6: calls open()",
    ]
