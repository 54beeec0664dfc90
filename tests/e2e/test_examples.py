"""The README works as printed (issue 26, item 5), against `dev.py run --demo`.

Its command-line block runs line by line in bash, exactly as printed; its HTTP API examples are sent as
printed (the curl lines read into httpx requests, to this run's port); its Operations block (the
Temporal CLI with a codec token) runs in bash. Every file of `examples/` is one those blocks pass or
post. Without a server: the README and docs/*.md name no personnummer but the demo's, no example date
has passed, and their command blocks run the command line one way (`python3 dev.py cli …`).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest

from demo import data as fx
from infrastructure.config import Settings
from tests.e2e.conftest import DevRun

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = [README, *sorted((ROOT / "docs").glob("*.md"))]
EXAMPLES = ROOT / "examples"
PRINTED_API, PRINTED_CODEC = "http://127.0.0.1:8000", "http://127.0.0.1:8081"
COMMAND_TIMEOUT_S = 120


def section(heading: str) -> str:
    """The README's section whose heading starts with `heading`, up to the next `## `."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {heading}")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def sh_lines(text: str) -> list[str]:
    """The commands of the ```sh blocks: a line continued with `\\` joined, blank lines left out."""
    blocks = re.findall(r"```sh\n(.*?)```", text, re.S)
    return [line for block in blocks for line in block.replace("\\\n", " ").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def shell_env(dev_run: DevRun, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The run's environment, with `python3` on PATH meaning this test's interpreter (the project's
    `.venv`), so `python3 dev.py …` is what a person types and nothing is set up again."""
    bin_dir = tmp_path_factory.mktemp("bin")
    wrapper = bin_dir / "python3"
    wrapper.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} "$@"\n')
    wrapper.chmod(0o700)
    return dev_run.env | {"PATH": f"{bin_dir}{os.pathsep}{dev_run.env.get('PATH', '')}"}


def bash(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
    )


def test_readme_command_line_runs_as_printed(dev_run: DevRun, shell_env: dict[str, str]) -> None:
    lines = sh_lines(section("Command line"))
    assert len(lines) > 20 and all(line.startswith("python3 dev.py cli ") for line in lines), lines
    for line in lines:
        done = bash(line, shell_env)
        assert done.returncode == 0, f"as printed: {line}\n{done.stdout}{done.stderr}"

    def status(*args: str) -> dict[str, object]:
        shown = dev_run.starter("--json", *args)
        assert shown.returncode == 0, shown.stderr
        return json.loads(shown.stdout)

    visit = status("visit", "status", "--booking-id", "B1")
    assert visit["state"] == "cancelled" and visit["start"] == "2027-10-05T10:00:00+02:00"
    request = status("invitation", "status", "--request-id", "R1")
    assert request["state"] == "booked" and request["weekdays"] == ["mon", "wed"]
    group = status("group", "status", "--group-booking-id", "G1")
    assert group["sms_flag"] is False and group["cancelled"] == ["P3"]


def curl_request(line: str, api: str, key: str) -> httpx.Request:
    """A README curl line as the request it sends (`-X`, `-H`, `-d` with `@file`), to `api`."""
    method, url, headers, body = "GET", "", {}, None
    args = iter(shlex.split(line.replace("$KEY", key), comments=True)[1:])
    for arg in args:
        if arg == "-X":
            method = next(args)
        elif arg == "-H":
            name, _, value = next(args).partition(":")
            headers[name.strip()] = value.strip()
        elif arg == "-d":
            data = next(args)
            body = (ROOT / data[1:]).read_bytes() if data.startswith("@") else data.encode()
            method = "POST" if method == "GET" else method
        elif arg.startswith("http"):
            url = arg.replace(PRINTED_API, api)
    assert url.startswith(api), f"no URL of the API in: {line}"
    return httpx.Request(method, url, headers=headers, content=body)


def test_readme_http_examples_are_accepted_as_printed(dev_run: DevRun, shell_env: dict[str, str]) -> None:
    lines = sh_lines(section("HTTP API"))
    [key_line] = [line for line in lines if line.startswith("KEY=")]
    made = bash(f'{key_line}\nprintf %s "$KEY"', shell_env)
    assert made.returncode == 0 and made.stdout.startswith("pmk_"), made.stderr
    api = f"http://127.0.0.1:{dev_run.env['PM_API_PORT']}"
    curls = [line for line in lines if line.startswith("curl ")]
    posted = {m for line in curls for m in re.findall(r"@(examples/[\w.-]+)", line)}
    assert posted >= {"examples/visit.json", "examples/appointment.json"}
    with httpx.Client(timeout=30) as client:
        for line in curls:
            answer = client.send(curl_request(line, api, made.stdout))
            assert answer.status_code in (200, 201), f"as printed: {line}\n{answer.text}"
    assert dev_run.starter("visit", "status", "--booking-id", "B3").returncode == 0  # the FHIR booking's


def test_readme_operations_decode_with_the_temporal_cli_as_printed(
    dev_run: DevRun, shell_env: dict[str, str]
) -> None:
    block = "\n".join(sh_lines(section("Operations")))
    assert "python3 dev.py temporal workflow describe" in block and "--codec-auth" in block
    codec = f"http://127.0.0.1:{dev_run.env['PM_CODEC_PORT']}"
    done = bash(block.replace(PRINTED_CODEC, codec), shell_env)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    assert "SMS reminder" in done.stdout  # the static summary, decoded
    assert f"patient_id: {fx.PNR_ADULT_1177}" in done.stdout  # the input of `workflow show`, decoded
    audit = dev_run.starter("--json", "audit", "--limit", "1000")
    reads = {(r["actor"], r["outcome"]) for r in json.loads(audit.stdout) if r["action"] == "codec.decode"}
    assert ("operator:anna.lind", "ok") in reads


def test_every_example_file_is_passed_or_posted_by_the_readme() -> None:
    files = {f"examples/{p.name}" for p in EXAMPLES.iterdir()}
    used = set(re.findall(r"examples/[\w.-]+", "\n".join(sh_lines(README.read_text(encoding="utf-8")))))
    named = set(re.findall(r"examples/[\w.-]+\.json", "\n".join(d.read_text(encoding="utf-8") for d in DOCS)))
    assert {"examples/booking.json", "examples/group.json", "examples/request.json"} <= files
    assert used == files, "each file of examples/ is used by a README command, and each one named exists"
    assert named <= files


def test_the_data_folder_is_the_one_the_readme_names() -> None:
    """`.data/` beside README.md, wherever the command runs from (not under a package)."""
    assert Settings().data_dir == ROOT / ".data"
    assert "data in `.data/` beside this README" in " ".join(README.read_text(encoding="utf-8").split())


def test_the_directory_example_is_the_demo_directory() -> None:
    """Loading it where the demo runs changes nothing; the examples' people are the demo's."""
    assert json.loads((EXAMPLES / "directory.json").read_text(encoding="utf-8")) == fx.demo_document()


PERSONNUMMER = re.compile(r"(?<![\w-])((?:19|20)\d{6})[-+]?(\d{4})(?![\w-])")


def test_the_docs_and_examples_name_only_the_demos_people() -> None:
    demo = {p["patient_id"] for p in fx.demo_document()["patients"]}
    texts = {path: path.read_text(encoding="utf-8") for path in [*DOCS, *EXAMPLES.glob("*.json")]}
    strangers = {
        f"{path.relative_to(ROOT)}: {born}-{serial}"
        for path, text in texts.items()
        for born, serial in PERSONNUMMER.findall(text)
        if f"{born}-{serial}" not in demo
    }
    assert strangers == set()


def test_the_examples_dates_have_not_passed() -> None:
    """A booking in the past is refused: when this fails, move the dates of examples/ and the README on."""
    texts = [p.read_text(encoding="utf-8") for p in EXAMPLES.glob("*.json")]
    texts.append("\n".join(sh_lines(README.read_text(encoding="utf-8"))))
    dates = {date.fromisoformat(d) for text in texts for d in re.findall(r"\b20\d\d-\d\d-\d\d\b", text)}
    today = datetime.now(UTC).date()
    assert dates and [d for d in sorted(dates) if d <= today] == []


def test_the_docs_run_the_command_line_and_the_temporal_cli_one_way() -> None:
    """`python3 dev.py cli …` and `python3 dev.py temporal …` (neither `starter.py` nor `temporal` runs
    as printed outside the project's `.venv`), in every command block and inline command."""
    other_ways = re.compile(r"^(?:python3? )?starter\.py |^temporal |^python3? -m ")
    found = [
        f"{doc.relative_to(ROOT)}: {line}"
        for doc in DOCS
        for line in sh_lines(doc.read_text(encoding="utf-8"))
        if other_ways.match(line.strip())
    ]
    found += [
        f"{doc.relative_to(ROOT)}: {m}"
        for doc in DOCS
        for m in re.findall(r"`python3? starter\.py [^`]*`", doc.read_text(encoding="utf-8"))
    ]
    assert found == []
