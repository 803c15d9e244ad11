"""Opening a store file safely: the one place that turns a path into a checked, migrated connection,
and the one place that reads and records the store's meta (tier, model, dim).

In order, writing nothing until the file is known to be ours:
  1. the path: nothing there (or a dangling symlink) -> the file is created owner-only (0600); an
     empty file is taken over owner-only; a FIFO, device, socket or directory is refused unopened;
  2. the header: a file that is not SQLite, or is cut short, is refused before SQLite sees it;
  3. the connection: read-only when the file is not writable (SQLite's choice), and immutable on
     read-only media where even the -shm file cannot be made and no -wal holds pending writes;
  4. one read snapshot -> schema.check: foreign, newer and almost-right files are refused untouched;
  5. only when needed: the switch to WAL (retried within the busy timeout) and the migrations (one
     write lock, the file re-checked under it). An up-to-date store is opened without writing.
"""
from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple

import apsw

from . import connection, files, schema, sqlfiles
from .errors import IncompatibleStoreError, StoreError
from .meta import StoreMeta, read_meta


@dataclass(frozen=True)
class StoreFile:
    conn: apsw.Connection
    path: Path
    meta: StoreMeta
    read_only: bool          # the file (or its folder) is not writable: recall works, writes raise StoreError
    identity: files.FileIdentity   # the file conn reads: a later connection by path must find it there


def open_store(path: Path) -> StoreFile:
    """Create or open the store at path, checked and migrated; refuses anything else untouched."""
    _prepare(path)
    with connection.translate_errors(path):
        before = _identity(path)
        conn = connect(path)
    try:
        if _identity(path) != before:
            raise StoreError(f"{path} was replaced while it was being opened; open it again")
        with connection.translate_errors(path):
            with connection.read_transaction(conn):
                state = schema.read_state(conn)
            schema.check(state, path)
            read_only = bool(conn.readonly("main"))
            if read_only and state.is_new:
                raise StoreError(f"{path} is read-only: memento cannot make a store in it")
            if read_only and not state.is_current:
                raise StoreError(f"{path} is read-only and needs an upgrade (schema {state.user_version} -> "
                                 f"{schema.latest_version()}): open it once with write access to the file and "
                                 "its folder; it was left untouched")
            if not read_only:
                connection.use_wal(conn, path, state.journal_mode)
                if not state.is_current:
                    schema.migrate(conn, path)
            meta = read_meta(conn)
    except BaseException:
        conn.close()
        raise
    return StoreFile(conn, path, meta, read_only, before)


def recorded_meta(path: Path) -> Optional[StoreMeta]:
    """The meta of the store at path, read without creating or changing anything (None: no store yet)."""
    found = _inspect(path)
    if found is None or found.st_size == 0:
        return None
    _check_header(path)
    with connection.translate_errors(path):
        conn = connect(path)  # as open() connects (it reads only, and tidies its -wal on close)
    try:
        with connection.translate_errors(path), connection.read_transaction(conn):
            state = schema.read_state(conn)
            schema.check(state, path)
            return None if state.is_new else read_meta(conn)
    finally:
        conn.close()


# -- the path and the header -----------------------------------------------------------------------

def _prepare(path: Path) -> None:
    """Leave a regular file at path: create it owner-only, or check that the one there is SQLite."""
    found = _inspect(path)
    if found is None:
        if _create_private(path):
            return
        found = _inspect(path)  # another process created it first: check it like any existing file
        if found is None:
            raise StoreError(f"{path}: the store file vanished while it was being created; try again")
    if found.st_size == 0:
        _make_private(path, found)
    else:
        _check_header(path)


def _inspect(path: Path) -> Optional[os.stat_result]:
    """What is at path (through symlinks): None for nothing; StoreError for anything but a regular file."""
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return None  # nothing there, or a dangling symlink: _create_private makes its target
    except OSError as e:
        raise StoreError(f"{path}: cannot use this path ({e.strerror})") from e
    for is_kind, kind in files.NOT_A_FILE:   # found through symlinks: never a link itself
        if is_kind(found.st_mode):
            raise StoreError(f"{path} is a {kind}, not a memento store file; it was left untouched")
    return found


def _create_private(path: Path) -> bool:
    """New stores are created owner-only (0600); SQLite gives its -wal/-shm files the same mode.
    Through a dangling symlink, the file it points at is created (SQLite follows the link).
    False: another process created it first."""
    target = Path(os.path.realpath(path))
    try:
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as e:
        raise StoreError(f"{path}: cannot create its folder {target.parent} ({e.strerror})") from e
    try:
        os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0o600))
    except FileExistsError:
        return False
    except OSError as e:
        raise StoreError(f"{path}: cannot create the store file ({e.strerror}): check that its folder "
                         "is writable") from e
    return True


def _make_private(path: Path, found: os.stat_result) -> None:
    """An empty file becomes the store: make it owner-only first, as a file we created would be."""
    if stat.S_IMODE(found.st_mode) & 0o077 == 0:
        return
    try:
        os.chmod(path, stat.S_IMODE(found.st_mode) & 0o700 | 0o600)
    except OSError as e:
        raise StoreError(f"{path} is an empty file memento cannot make owner-only ({e.strerror}); "
                         "it was left untouched") from e


# A file that looks shorter than its header declares is read again this many times, TRUNCATED_WAIT
# seconds apart, before it is called truncated: another process's checkpoint writes page 1 (the
# header, with the new size) before the pages that extend the file, and then removes the WAL when
# its last connection closes, so a store being created by another process at that very moment looks
# cut off for an instant (seen with 8 processes creating one store at once).
TRUNCATED_READS = 5
TRUNCATED_WAIT = 0.05


def _check_header(path: Path) -> None:
    """Check the header ourselves, before SQLite may write to a file that is not a database."""
    for attempt in range(TRUNCATED_READS):
        has_wal = _wal(path).exists()      # before the header: a WAL seen here covers what it declares
        header, size = _read_header(path)
        parsed = files.parse_header(header)
        if not parsed.is_sqlite:
            raise IncompatibleStoreError(f"{path} is not a SQLite database; it was left untouched")
        if not parsed.truncated(size, has_wal=has_wal):
            return
        if attempt < TRUNCATED_READS - 1:
            time.sleep(TRUNCATED_WAIT)
    raise IncompatibleStoreError(
        f"{path} is truncated ({size} bytes, header declares {parsed.declared_bytes});"
        " it was left untouched: restore it from a backup")


def _read_header(path: Path) -> Tuple[bytes, int]:
    """The file's first bytes, then its size. Opened non-blocking and re-checked as a regular file: a
    FIFO swapped in meanwhile cannot hang us."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as e:
        raise StoreError(f"{path}: cannot read it ({e.strerror})") from e
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise StoreError(f"{path} is not a regular file, not a memento store file; it was left untouched")
        header = os.read(fd, files.HEADER_BYTES)
        return header, os.fstat(fd).st_size  # the size after the header: never older than what it declares
    finally:
        os.close(fd)


# -- the connection --------------------------------------------------------------------------------

def connect(path: Path) -> apsw.Connection:
    """A connection that can read the file. A WAL store needs its -shm file (and a writer its -wal);
    where the folder is read-only they cannot be made, and nobody can write the store, so it is opened
    immutable (SQLite takes no locks and reads only the main file), which is safe only when no -wal
    holds writes not yet in the main file."""
    conn = connection.connect(path)
    try:
        conn.execute(sqlfiles.query("can_read")).fetchall()
        return conn
    except apsw.CantOpenError:
        conn.close()
    wal = _wal(path)
    if wal.exists() and wal.stat().st_size > 0:
        raise StoreError(f"{path} is read-only and its {wal.name} holds writes not yet in the main file: "
                         "open it once with write access to its folder; it was left untouched")
    return connection.connect(path, immutable=True)


def _identity(path: Path) -> files.FileIdentity:
    try:
        return files.identity(path)
    except OSError as e:
        raise StoreError(f"{path}: the store file vanished while it was being opened ({e.strerror})") from e


def _wal(path: Path) -> Path:
    """The WAL of the file a symlink at path points to: SQLite opens the link's target."""
    return files.wal(Path(os.path.realpath(path)))
