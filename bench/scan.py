"""Patient-data scan of a data folder: does any personnummer, name or phone number of the directory
appear where it should not?

    python -m bench.scan --data-dir .data [--examples 5] [--json scan.json]

What is searched (everything the operator of the system holds besides the directory itself):
- the Temporal dev server's database: `temporal.sqlite3` and its `-wal` / `-shm`, byte for byte;
- the metadata of the embedded stores, outside the message itself: `key` and `provider_id` of the
  SMS outbox and ledger, `key` and `message_id` of the 1177 inbox and its ledger (the SMS body and `to`
  number and the inbox message are what the provider receives: they are meant to hold patient data);
- every log file (`*.log`) and other text file (`*.txt`, `*.json`) in the data folder, except the
  key file.

What is looked for, for every patient of `<data_dir>/directory.sqlite3` (and their guardians):
- personnummer / samordningsnummer in 12 and 10 digits, with or without the dash (reservnummer: the
  three written forms);
- phone numbers in E.164 (`+46701740605`, also without the `+`) and national form (`0701740605`),
  with any dashes or single spaces between the digits;
- names: "given family" together, and the family name alone (in UTF-8 and JSON `\\u00e4` escapes).
  A given name alone is not searched: short given names ("Demo") also occur as ordinary words.

Hits are printed masked (first two characters kept) with masked context; the value is never printed.
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import sys
from collections import Counter, defaultdict
from contextlib import closing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from adapters.directory import SqliteDirectory
from infrastructure.logging_setup import redact_text

_DIGIT_RUN = re.compile(rb"\+?\d(?:[ -]?\d)*")
_TOKEN = re.compile(rb"(?:[A-Za-z]|[\xc3][\x80-\xbf]|\\u00[0-9a-fA-F]{2})+")
DIGIT_FORMS = (12, 11, 10)
_DIGITS_IN_CONTEXT = re.compile(r"\d(?:[ -]?\d){3,}")


@dataclass
class Needles:
    digits: dict[str, tuple[str, str]] = field(default_factory=dict)  # digits -> (kind, form)
    literals: list[tuple[bytes, str, str]] = field(default_factory=list)  # reservnummer forms
    family: dict[bytes, list[bytes]] = field(default_factory=lambda: defaultdict(list))  # -> given names
    patients: int = 0


@dataclass
class Hit:
    where: str
    offset: int
    kind: str  # personnummer | phone | name
    form: str
    masked: str
    context: str


def _encodings(text: str) -> set[bytes]:
    """UTF-8 and JSON-escaped (`\\u00e4`) forms of a text."""
    return {text.encode(), json.dumps(text)[1:-1].encode()}


def needles_from(directory: SqliteDirectory) -> Needles:
    found = Needles()
    for patient_id in directory.patient_ids():
        patient = directory.patient(patient_id)
        if patient is None:
            continue
        found.patients += 1
        date_part, _, tail = patient.patient_id.partition("-")
        if tail.isdigit():
            found.digits[date_part + tail] = ("personnummer", "12 digits")
            found.digits[date_part[2:] + tail] = ("personnummer", "10 digits")
        else:  # reservnummer
            for form, text in (
                ("12", f"{date_part}-{tail}"),
                ("12", date_part + tail),
                ("10", f"{date_part[2:]}-{tail}"),
            ):
                found.literals.append((text.encode(), "personnummer", f"reservnummer {form}"))
        mobiles = [patient.mobile, *(g.mobile for g in patient.guardians)]
        for mobile in filter(None, mobiles):
            found.digits[mobile[1:]] = ("phone", "E.164")
            found.digits["0" + mobile[3:]] = ("phone", "national")
        people = [(patient.given_name, patient.family_name)]
        for guardian in patient.guardians:
            given, _, family = guardian.name.rpartition(" ")
            people.append((given, family))
        for given, family in people:
            for fam in _encodings(family):
                for giv in _encodings(given):
                    if giv not in found.family[fam]:
                        found.family[fam].append(giv)
    return found


def mask(value: str) -> str:
    return value[:2] + "".join("*" if ch.isalnum() else ch for ch in value[2:])


def _context(data: bytes, start: int, end: int, needles: Needles, width: int = 32) -> str:
    before = data[max(0, start - width) : start]
    after = data[end : end + width]

    def clean(chunk: bytes) -> str:
        text = chunk.decode("utf-8", errors="replace")
        text = "".join(ch if ch.isprintable() else "." for ch in text)
        text = _DIGITS_IN_CONTEXT.sub(lambda m: re.sub(r"\d", "*", m.group()), redact_text(text))
        for token in re.findall(r"[A-Za-zÀ-ÿ]{4,}", text):
            if _encodings(token) & needles.family.keys():
                text = text.replace(token, mask(token))
        return text

    value = data[start:end].decode("utf-8", errors="replace")
    return f"…{clean(before)}[{mask(value)}]{clean(after)}…"


def scan_bytes(data: bytes, where: str, needles: Needles, base: int = 0) -> list[Hit]:
    hits: list[Hit] = []
    for run in _DIGIT_RUN.finditer(data):
        raw = run.group()
        if len(raw) < 10:
            continue
        positions = [run.start() + i for i, b in enumerate(raw) if 48 <= b <= 57]
        digits = bytes(raw[i] for i in range(len(raw)) if 48 <= raw[i] <= 57).decode()
        taken: list[tuple[int, int]] = []
        for length in DIGIT_FORMS:
            for s in range(len(digits) - length + 1):
                match = needles.digits.get(digits[s : s + length])
                if match is None or any(s < e and b < s + length for b, e in taken):
                    continue
                taken.append((s, s + length))
                start, end = positions[s], positions[s + length - 1] + 1
                if match[1] == "E.164" and start > 0 and data[start - 1 : start] == b"+":
                    start -= 1
                hits.append(
                    Hit(
                        where,
                        base + start,
                        match[0],
                        match[1],
                        mask(data[start:end].decode()),
                        _context(data, start, end, needles),
                    )
                )
    for literal, kind, form in needles.literals:
        index = data.find(literal)
        while index >= 0:
            end = index + len(literal)
            hits.append(
                Hit(
                    where,
                    base + index,
                    kind,
                    form,
                    mask(literal.decode()),
                    _context(data, index, end, needles),
                )
            )
            index = data.find(literal, end)
    for token in _TOKEN.finditer(data):
        givens = needles.family.get(token.group())
        if givens is None:
            continue
        start, end = token.start(), token.end()
        full = next((g for g in givens if data[max(0, start - len(g) - 1) : start] == g + b" "), None)
        if full is not None:
            start -= len(full) + 1
        form = "given + family name" if full is not None else "family name"
        hits.append(
            Hit(
                where,
                base + start,
                "name",
                form,
                mask(data[start:end].decode("utf-8", "replace")),
                _context(data, start, end, needles),
            )
        )
    return hits


def _scan_columns(path: Path, table: str, columns: list[str], needles: Needles) -> list[Hit]:
    if not path.exists():
        return []
    hits: list[Hit] = []
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        try:
            rows = conn.execute(f"SELECT rowid, {', '.join(columns)} FROM {table}").fetchall()
        except sqlite3.OperationalError:
            return []
    for row in rows:
        for column, value in zip(columns, row[1:], strict=True):
            if value is None:
                continue
            data = str(value).encode()
            hits.extend(scan_bytes(data, f"{path.name}: {table}.{column} of row {row[0]}", needles))
    return hits


STORE_METADATA = [
    ("outbox.sqlite3", "outbox", ["key", "provider_id"]),
    ("sms-ledger.sqlite3", "sent", ["key", "provider_id"]),
    ("inbox-1177.sqlite3", "inbox", ["key", "message_id"]),
    ("inbox-ledger.sqlite3", "delivered", ["key", "message_id"]),
]
SKIP = {"keys.txt"}


def files_to_scan(data_dir: Path) -> list[Path]:
    files = sorted(p for p in data_dir.glob("temporal.sqlite3*") if p.is_file())
    for pattern in ("**/*.log", "**/*.txt", "**/*.json"):
        files += sorted(p for p in data_dir.glob(pattern) if p.is_file() and p.name not in SKIP)
    return list(dict.fromkeys(files))


def scan(data_dir: Path) -> dict[str, Any]:
    directory_path = data_dir / "directory.sqlite3"
    if not directory_path.exists():
        raise SystemExit(f"no directory at {directory_path}: nothing to look for")
    needles = needles_from(SqliteDirectory(directory_path))
    hits: list[Hit] = []
    scanned: list[dict[str, Any]] = []
    for path in files_to_scan(data_dir):
        data = path.read_bytes()
        found = scan_bytes(data, str(path.relative_to(data_dir)), needles)
        scanned.append({"file": str(path.relative_to(data_dir)), "bytes": len(data), "hits": len(found)})
        hits += found
    for name, table, columns in STORE_METADATA:
        found = _scan_columns(data_dir / name, table, columns, needles)
        if (data_dir / name).exists():
            scanned.append({"file": f"{name} ({table}: {', '.join(columns)})", "hits": len(found)})
        hits += found
    return {
        "data_dir": str(data_dir),
        "patients": needles.patients,
        "scanned": scanned,
        "hits": [asdict(h) for h in hits],
    }


def summary(result: dict[str, Any], examples: int = 3) -> dict[str, Any]:
    """Counts per file and kind, and a few masked examples per file (for the benchmark's JSON)."""
    per_file: dict[str, Counter[str]] = defaultdict(Counter)
    shown: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for hit in result["hits"]:
        file = hit["where"].split(":")[0]
        per_file[file][f"{hit['kind']} ({hit['form']})"] += 1
        if len(shown[file]) < examples:
            shown[file].append({k: hit[k] for k in ("offset", "kind", "form", "masked", "context")})
    total = len(result["hits"])
    return {
        "verdict": "0 hits" if total == 0 else f"{total} hits in {len(per_file)} files",
        "patients": result["patients"],
        "files_scanned": result["scanned"],
        "hits_per_file": {f: dict(c) for f, c in per_file.items()},
        "examples": dict(shown),
    }


def print_report(result: dict[str, Any], examples: int) -> None:
    s = summary(result, examples)
    print(
        f"scanned {result['data_dir']} for {result['patients']} patients' personnummer, names "
        "and phone numbers"
    )
    for item in s["files_scanned"]:
        size = f", {item['bytes']:,} bytes" if "bytes" in item else ""
        print(f"  {item['file']}{size}: {item['hits']} hits")
    if not result["hits"]:
        print("0 hits")
        return
    print(s["verdict"])
    for file, counts in s["hits_per_file"].items():
        print(
            f"\n{file}: "
            + ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items(), key=lambda kv: -kv[1]))
        )
        for ex in s["examples"][file]:
            print(f"  offset {ex['offset']}: {ex['kind']} ({ex['form']}) {ex['masked']}  {ex['context']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=".data", type=Path)
    parser.add_argument("--examples", type=int, default=5, help="masked examples shown per file")
    parser.add_argument("--json", help="write the summary (masked) to this file")
    args = parser.parse_args()
    result = scan(args.data_dir)
    print_report(result, args.examples)
    if args.json:
        Path(args.json).write_text(json.dumps(summary(result, args.examples), indent=2) + "\n")
    return 1 if result["hits"] else 0


if __name__ == "__main__":
    sys.exit(main())
