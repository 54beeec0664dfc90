"""Files the service writes are its own: 0600 in 0700 folders (issue 24, docs/security.md "At rest").

Two layers. Every entrypoint sets the process umask to 077 first (`private_process`), so whatever it
or a child it starts creates (the Temporal dev server's database and log, SQLite's `-wal`/`-shm`, a
library's temporary file) is private; and the adapters that create files open them 0600 and make
their folders 0700 themselves (`private_dir`, `private_file`), so a store is private in a process
that never set the umask (a test, a script, a host's `umask 000`). `tighten` closes what an earlier
release or another tool left group- or world-readable in the data folder when a process starts.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from security.keyring import KEY_FILE_NAME

PRIVATE_UMASK = 0o077
DIR_MODE = 0o700
FILE_MODE = 0o600


def private_process() -> None:
    """Files and folders this process and its children create: owner only (umask 077)."""
    os.umask(PRIVATE_UMASK)


def private_start(data_dir: Path) -> int:
    """What every entrypoint does first: umask 077, then `tighten` the data folder if it exists."""
    private_process()
    return tighten(data_dir)


def private_dir(path: Path) -> Path:
    """`path` and missing parents, made 0700 when created here (an existing folder is left as it is:
    `tighten` is for the data folder)."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    for created in missing:
        with contextlib.suppress(OSError):  # another process's folder by now: not ours to change
            os.chmod(created, DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """Create `path` empty with mode 0600 unless it exists (in a 0700 folder when it makes one)."""
    private_dir(path.parent)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    return path


def tighten(folder: Path) -> int:
    """Remove group and other access from `folder` and everything in it that this user owns (links
    are not followed); returns how many entries changed. The key file is left alone: a loose key file
    is refused at start (security.keyring), since its keys may have leaked and must be rotated."""
    if not folder.is_dir():
        return 0
    changed = _restrict(folder)
    for root, dirs, files in os.walk(folder):
        for name in dirs:
            changed += _restrict(Path(root, name))
        for name in files:
            if not (name == KEY_FILE_NAME and Path(root) == folder):
                changed += _restrict(Path(root, name))
    return changed


def _restrict(path: Path) -> int:
    """Remove the group and other bits of `path` where it has any; 1 if it changed."""
    try:
        info = os.lstat(path)
        current = stat.S_IMODE(info.st_mode)
        if stat.S_ISLNK(info.st_mode) or info.st_uid != os.getuid() or not current & 0o077:
            return 0
        os.chmod(path, current & 0o700)
        return 1
    except OSError:  # gone meanwhile, or not ours to change
        return 0
