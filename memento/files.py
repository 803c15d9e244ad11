"""The files memento keeps on disk: a store's (the SQLite header, the -wal/-shm companions, owner-only
modes) and the files it writes beside a store (Markdown exports: owner-only, staged, moved in whole).

Opening (opening.py), checking (health.py, cli/doctor.py), repairing and restoring (replicate.py) all
look at the same files; what a store's file set is and what its header says is decided here once.
Exports (formats/markdown.py) write through the functions at the end of this module.
"""
from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
from pathlib import Path
from typing import Iterator, List, NamedTuple, Optional, TextIO, Tuple, Union

from .errors import StoreError

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


def companions(path: Path) -> Tuple[Path, Path, Path]:
    """The files SQLite may keep beside a store: its -wal, its -shm and a rollback -journal."""
    return wal(path), shm(path), Path(f"{path}-journal")


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


# -- files memento writes outside the store (Markdown exports) --------------------------------------
# Owner-only like the store; written into a staging folder whose files no reader takes for data
# (OpenClaw and `memento import` read *.md; staged files end in .partial), moved into place whole by
# one rename each; staging left by a writer that was killed is removed by the next one.

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
STAGING_PREFIX = ".memento-staging-"      # + the writer's pid + a random part
STAGED_SUFFIX = ".partial"
OLD_STAGING_PREFIX = ".memento-export-"   # staging of earlier versions: inside memory/, holding .md files


def private_dir(path: Path) -> Path:
    """`path` as a folder: missing folders (parents too) are created owner-only; an existing folder is
    used as it is. Anything else in the way raises NotADirectoryError."""
    path = Path(path)
    if path.is_dir():
        return path
    if os.path.lexists(path):
        raise NotADirectoryError(errno.ENOTDIR, "not a folder", str(path))
    private_dir(path.parent)
    try:
        os.mkdir(path, PRIVATE_DIR_MODE)
    except FileExistsError:
        if not path.is_dir():   # made by another process meanwhile: fine if it is a folder
            raise
    return path


def append_private(path: Path) -> TextIO:
    """`path` opened for appending UTF-8 text with \\n line ends; created owner-only. A symlink is
    refused, never followed."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), PRIVATE_FILE_MODE)
    return os.fdopen(fd, "a", encoding="utf-8", newline="\n")


@contextlib.contextmanager
def staging(folder: Path) -> Iterator[Path]:
    """A new owner-only staging folder inside `folder`, removed when the block ends, however it ends.
    Staging left in `folder` by writers no longer running is removed first."""
    remove_stale_staging(folder)
    import tempfile  # exports only: the MCP server imports this module at start
    path = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-", dir=folder))   # mkdtemp: 0700
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def staged(staging_folder: Path, name: str) -> Path:
    """Where the file `name` is written until it is published: a name no reader takes for data."""
    return staging_folder / (name + STAGED_SUFFIX)


def publish(staged_file: Path, target: Path) -> None:
    """Move a finished file into place: on disk first, then one rename (a reader sees all or nothing)."""
    fd = os.open(staged_file, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(staged_file, target)


def is_staging(name: str) -> bool:
    """A folder name memento gives its staging (now or in earlier versions)."""
    return name.startswith((STAGING_PREFIX, OLD_STAGING_PREFIX))


def remove_stale_staging(folder: Path) -> None:
    """Remove the staging folders in `folder` whose writer is no longer running (killed mid-write).
    Staging of earlier versions names no writer; it is always stale."""
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return
    for name in names:
        if is_staging(name) and not _writer_running(name):
            shutil.rmtree(Path(folder) / name, ignore_errors=True)


def _writer_running(name: str) -> bool:
    pid = name[len(STAGING_PREFIX):].split("-", 1)[0] if name.startswith(STAGING_PREFIX) else ""
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except OSError:     # EPERM: running, as another user
        return True
    return True


# -- what memento may replace or delete --------------------------------------------------------------

# What can stand at a path instead of a file, by name (for messages that say what was found there).
NOT_A_FILE = ((stat.S_ISLNK, "symbolic link"), (stat.S_ISDIR, "directory"), (stat.S_ISFIFO, "FIFO (named pipe)"),
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
    beside = companions(path)
    for companion in beside:   # SQLite's files beside a store: regular files, whatever they hold
        kind = _kind(companion)
        if kind not in (None, "file"):
            raise StoreError(f"{companion} is a {kind}, not a file SQLite made; {untouched}")
    kind = _kind(path)
    if kind is None:
        return any(c.exists() for c in beside)
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
    from .schema import APPLICATION_ID  # here: the MCP server imports this module, and schema loads apsw
    if application_id != APPLICATION_ID:
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
    return next((name for is_kind, name in NOT_A_FILE if is_kind(mode)), "file of an unknown kind")
