"""A store's files on disk: the SQLite header, the -wal/-shm companions, owner-only modes.

Opening (opening.py), checking (health.py, cli/doctor.py), repairing and restoring (replicate.py) all
look at the same files; what a store's file set is and what its header says is decided here once.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import List, NamedTuple, Optional, Tuple, Union

PathLike = Union[str, "os.PathLike[str]"]

SQLITE_MAGIC = b"SQLite format 3\x00"
HEADER_BYTES = 100


def default_path() -> Path:
    """$MEMENTO_DB, else $XDG_DATA_HOME/memento/memento.db (~/.local/share/memento/memento.db)."""
    if os.environ.get("MEMENTO_DB"):
        return Path(os.environ["MEMENTO_DB"]).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data_home) / "memento" / "memento.db"


def store_path(path: Optional[PathLike] = None) -> Path:
    """The store file a path given by a caller (None: the default) names: the one rule for all."""
    return Path(path).expanduser() if path is not None else default_path()


def unusable_store_path(path: Path) -> Optional[str]:
    """Why no store can be opened or created at path (None: one may be), from the path alone: what
    sits there, and for a new store whether its folder could be made. Cheap, and opens nothing."""
    try:
        found = os.stat(path)
    except FileNotFoundError:
        found = None
    except OSError as e:
        return f"{path} cannot be used ({e.strerror})"
    if found is not None:
        return None if stat.S_ISREG(found.st_mode) else f"{path} is not a file ({stat.filemode(found.st_mode)})"
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        return f"{path} cannot be created: {folder} is a file, not a folder"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"{path} cannot be created: {folder} is not writable"
    return None


def wal(path: Path) -> Path:
    """The store's write-ahead log (SQLite names it after the path it was opened by)."""
    return Path(f"{path}-wal")


def shm(path: Path) -> Path:
    """The store's shared-memory index of its WAL."""
    return Path(f"{path}-shm")


def store_files(path: Path) -> Tuple[Path, Path, Path]:
    """The store and the companions SQLite makes next to it, which hold its data too."""
    return path, wal(path), shm(path)


class Header(NamedTuple):
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
