"""PostgreSQL's server binaries on this machine: `dev.py` installs them when missing, and the tests'
and benchmarks' throw-away server (`testkit/postgres.py`) runs them.

`PM_POSTGRES_BIN` when set, else the highest `/usr/lib/postgresql/*/bin` (Debian's `postgresql`),
else PATH. Standard library only.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

BIN_ENV = "PM_POSTGRES_BIN"
DEBIAN_BIN_GLOB = "/usr/lib/postgresql/*/bin"
NEEDED = ("initdb", "pg_ctl", "postgres", "psql")


@dataclass(frozen=True)
class PostgresBinaries:
    initdb: str
    pg_ctl: str
    postgres: str
    psql: str


def _version_key(bin_dir: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", bin_dir.parent.name)) or (0,)


def find_binaries(bin_dir: str | Path | None = None) -> PostgresBinaries:
    """initdb, pg_ctl, postgres and psql: from `bin_dir` or `PM_POSTGRES_BIN` only when given, else the
    highest `/usr/lib/postgresql/*/bin`, else PATH. A one-line RuntimeError says how to install them."""
    chosen = bin_dir if bin_dir is not None else os.environ.get(BIN_ENV) or None
    if chosen is not None:
        folders, where = [Path(chosen)], f"{chosen} ({BIN_ENV} or bin_dir)"
    else:
        debian = sorted((Path(p) for p in glob.glob(DEBIAN_BIN_GLOB)), key=_version_key, reverse=True)
        folders, where = debian, f"{DEBIAN_BIN_GLOB} or on PATH"
    for folder in folders:
        paths = [folder / name for name in NEEDED]
        if all(p.is_file() and os.access(p, os.X_OK) for p in paths):
            return PostgresBinaries(*(str(p) for p in paths))
    if chosen is None:
        initdb = shutil.which("initdb")
        if initdb is not None:  # prefer the folder the PATH entry points to (e.g. a symlink to Debian's)
            home = Path(initdb).resolve().parent
            found = [str(home / n) if (home / n).is_file() else shutil.which(n) for n in NEEDED]
            if all(found):
                return PostgresBinaries(*found)  # type: ignore[arg-type]
    raise RuntimeError(
        f"PostgreSQL binaries ({', '.join(NEEDED)}) not found in {where}: install them with "
        "`apt-get install -y postgresql` (as root), or run `python3 dev.py test`, which installs them"
    )
