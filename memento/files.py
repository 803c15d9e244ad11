"""A store's files on disk: the SQLite header, the -wal/-shm companions, owner-only modes.

Opening (opening.py), checking (health.py, cli/doctor.py), repairing and restoring (replicate.py) all
look at the same files; what a store's file set is and what its header says is decided here once.
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import List, Tuple

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


FileIdentity = Tuple[int, int]   # (device, inode): the file itself, whatever path leads to it


def identity(path: Path) -> FileIdentity:
    """Which file is at path now (through symlinks, as SQLite opens it). A store handle reads one
    file for its life: a connection it opens later by path must find the same identity."""
    found = os.stat(path)
    return found.st_dev, found.st_ino
