"""A store's files on disk: the SQLite header, the -wal/-shm companions, owner-only modes.

Opening (opening.py), checking (health.py, cli/doctor.py), repairing and restoring (replicate.py) all
look at the same files; what a store's file set is and what its header says is decided here once.
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

from . import schema
from .errors import StoreError

SQLITE_MAGIC = b"SQLite format 3\x00"
HEADER_BYTES = 100


def wal(path: Path) -> Path:
    """The store's write-ahead log (SQLite names it after the path it was opened by)."""
    return Path(f"{path}-wal")


def shm(path: Path) -> Path:
    """The store's shared-memory index of its WAL."""
    return Path(f"{path}-shm")


def store_files(path: Path) -> Tuple[Path, Path, Path]:
    """The store and the companions SQLite makes next to it, which hold its data too."""
    return path, wal(path), shm(path)


@dataclass(frozen=True)
class Header:
    """What a file's first 100 bytes say about it."""
    is_sqlite: bool
    complete: bool      # all 100 bytes were there
    page_size: int
    declared_bytes: int  # pages the header declares, in bytes

    def truncated(self, size: int, has_wal: bool) -> bool:
        """A file shorter than its header declares was cut off (copy interrupted, disk error). Pages
        not yet checkpointed may be in the WAL, so only a file without a WAL counts as truncated."""
        return not self.complete or (self.declared_bytes > size and not has_wal)


def parse_header(header: bytes) -> Header:
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size   # 1 encodes 65536 (two bytes cannot)
    return Header(is_sqlite=header.startswith(SQLITE_MAGIC), complete=len(header) >= HEADER_BYTES,
                  page_size=page_size, declared_bytes=int.from_bytes(header[28:32], "big") * page_size)


def loose_permissions(path: Path) -> List[Path]:
    """The store's files that someone other than the owner may read or write (memories are private)."""
    return [p for p in store_files(path) if p.exists() and p.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO)]


def make_owner_only(p: Path) -> None:
    os.chmod(p, stat.S_IMODE(p.stat().st_mode) & stat.S_IRWXU)


# -- what memento may replace or delete --------------------------------------------------------------

_NOT_A_FILE = ((stat.S_ISLNK, "symbolic link"), (stat.S_ISDIR, "directory"), (stat.S_ISFIFO, "FIFO (named pipe)"),
               (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"), (stat.S_ISSOCK, "socket"))


def replaceable_store(path: Path) -> bool:
    """The one check before memento replaces or deletes a store's files: what is at path must be what
    memento made. True: a memento store is there (a regular file whose SQLite header carries memento's
    application_id, an empty file, or only its -wal/-shm/-journal leftovers); False: nothing is there.
    Anything else raises StoreError and is left untouched: a FIFO, a device, a folder, a text file,
    another application's database. A symlink is refused, not followed: a caller that accepts one
    resolves it first and checks the file it points to. Only the header is read, so a store damaged
    past its first page can still be replaced (restore exists for that)."""
    untouched = "it was left untouched: choose another path, or move it away yourself"
    companions = [wal(path), shm(path), Path(f"{path}-journal")]
    for companion in companions:   # SQLite's files beside a store: regular files, whatever they hold
        kind = _kind(companion)
        if kind not in (None, "file"):
            raise StoreError(f"{companion} is a {kind}, not a file SQLite made; {untouched}")
    kind = _kind(path)
    if kind is None:
        return any(c.exists() for c in companions)
    if kind != "file":
        raise StoreError(f"{path} is a {kind}, not a memento store; {untouched}")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as e:
        raise StoreError(f"{path}: cannot read it to check that it is a memento store ({e.strerror}); "
                         f"{untouched}") from e
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):   # swapped since the lstat: check what was opened
            raise StoreError(f"{path} is not a regular file, not a memento store; {untouched}")
        header = os.read(fd, HEADER_BYTES)
    finally:
        os.close(fd)
    if not header:
        return True   # an empty file: what a store is before its first write
    if not parse_header(header).is_sqlite or len(header) < HEADER_BYTES:
        raise StoreError(f"{path} is not a SQLite database, so not a memento store; {untouched}")
    application_id = int.from_bytes(header[68:72], "big")
    if application_id != schema.APPLICATION_ID:
        # A store's first writes may still sit only in its -wal, the header not yet checkpointed.
        pending = (" (or a new memento store whose first writes are still only in its -wal: close every "
                   "program using it, then try again)") if application_id == 0 and _has_content(wal(path)) else ""
        raise StoreError(f"{path} is a SQLite database of another application (application_id "
                         f"{application_id}), not a memento store{pending}; {untouched}")
    return True


def _has_content(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 0


def _kind(path: Path) -> Optional[str]:
    """'file', None (nothing there), or the name of what else is at path (a symlink is not followed)."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return None
    except OSError as e:
        raise StoreError(f"{path}: cannot see what is there ({e.strerror}); it was left untouched") from e
    if stat.S_ISREG(mode):
        return "file"
    return next((name for is_kind, name in _NOT_A_FILE if is_kind(mode)), "file of an unknown kind")
