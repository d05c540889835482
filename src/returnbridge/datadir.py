"""The data directory is private to the user running the gateway: 0700, its files 0600.

It holds the SQLite databases and the generated keys. Files are created private before
anything is written to them (SQLite gives its `-wal` and `-shm` files the database file's
mode), and keys are written to a temporary file that is linked into place only once complete,
so a crash never leaves a key file empty.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

import structlog

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600

log = structlog.get_logger("returnbridge.datadir")


def secure_directory(path: Path) -> Path:
    """Create `path` (0700), or tighten it and the files directly in it; its resolved path."""
    path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    tighten(path, PRIVATE_DIR_MODE)
    for child in path.iterdir():
        if child.is_file() and not child.is_symlink():
            tighten(child, PRIVATE_FILE_MODE)
    return path.resolve()


def tighten(path: Path, allowed: int) -> None:
    """Drop every permission bit of `path` outside `allowed`, with a warning when it had any."""
    try:
        info = path.lstat()
    except FileNotFoundError:  # another process's temporary file, already gone
        return
    current = stat.S_IMODE(info.st_mode)
    if not current & ~allowed:
        return
    if info.st_uid != os.geteuid():
        log.warning("not private and not ours, left as is", path=str(path), mode=oct(current))
        return
    try:
        path.chmod(current & allowed)
    except OSError as exc:  # a read-only mount, for instance: the operator must fix it
        log.warning("not private, could not tighten", path=str(path), error=exc.strerror)
        return
    log.warning(
        "tightened permissions", path=str(path), mode=oct(current), now=oct(current & allowed)
    )


def create_private_file(path: Path) -> None:
    """Create `path` empty with mode 0600 unless it exists (e.g. before SQLite opens it)."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE))


def write_new_private_file(path: Path, content: str) -> bool:
    """Write `content` to a new file `path` (0600), atomically; False if `path` already exists.

    The content goes to a temporary file in the same directory, is flushed to disk, and is then
    hard-linked to `path`: readers see no file or the whole file, and a concurrent writer that
    got there first wins (its file is kept, ours dropped).
    """
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return False
    finally:
        os.unlink(temporary)
    _fsync_directory(path.parent)
    return True


def _fsync_directory(path: Path) -> None:
    """Make a new directory entry durable (not possible, nor needed, on every platform)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
