"""Opening the SQLite file: connection setup as small named steps, transactions, error mapping.

Nothing here writes to the file until `use_wal` (called only after schema.ensure_compatible has
accepted the file), so a foreign or newer file is refused byte-for-byte untouched.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator

import apsw

from .errors import IncompatibleStoreError, StoreError

BUSY_TIMEOUT_MS = 10_000  # concurrent agents wait for each other instead of "database is locked"
_SQLITE_MAGIC = b"SQLite format 3\x00"


def connect(path: Path) -> apsw.Connection:
    """Open (creating if needed, owner-only) the store file; no write happens here."""
    _refuse_non_sqlite_file(path)
    _create_private_file(path)
    with translate_errors(path):
        conn = apsw.Connection(str(path), flags=apsw.SQLITE_OPEN_READWRITE | apsw.SQLITE_OPEN_CREATE)
        _set_busy_timeout(conn)
        _disable_double_quoted_strings(conn)
        _enable_foreign_keys(conn)
        _leave_checkpoints_to_litestream(conn, path)
    return conn


def _refuse_non_sqlite_file(path: Path) -> None:
    """Check the header ourselves, before SQLite may write to a file that is not a database."""
    if not path.exists() or path.stat().st_size == 0:
        return
    if path.is_dir():
        raise StoreError(f"{path} is a directory, not a memento store file")
    with open(path, "rb") as f:
        header = f.read(100)
    if not header.startswith(_SQLITE_MAGIC):
        raise IncompatibleStoreError(f"{path} is not a SQLite database; it was left untouched")
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages_in_header = int.from_bytes(header[28:32], "big")
    size = path.stat().st_size
    # A file shorter than the size its own header declares was cut off (copy interrupted, disk
    # error). A WAL file may hold the missing pages, so only refuse when there is no WAL.
    wal = Path(str(path) + "-wal")
    if len(header) < 100 or (pages_in_header * page_size > size and not wal.exists()):
        raise IncompatibleStoreError(
            f"{path} is truncated ({size} bytes, header declares {pages_in_header * page_size});"
            " it was left untouched: restore it from a backup")


def _create_private_file(path: Path) -> None:
    """New stores are created owner-only (0600); SQLite gives its -wal/-shm files the same mode."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


def _set_busy_timeout(conn: apsw.Connection) -> None:
    conn.set_busy_timeout(BUSY_TIMEOUT_MS)


def _disable_double_quoted_strings(conn: apsw.Connection) -> None:
    # "text" must mean a column, never a string literal: typos fail loudly instead of matching nothing.
    conn.config(apsw.SQLITE_DBCONFIG_DQS_DML, 0)
    conn.config(apsw.SQLITE_DBCONFIG_DQS_DDL, 0)


def _enable_foreign_keys(conn: apsw.Connection) -> None:
    conn.pragma("foreign_keys", True)


def _leave_checkpoints_to_litestream(conn: apsw.Connection, path: Path) -> None:
    # A store Litestream replicates has its `.NAME-litestream` folder beside it. Litestream's tips:
    # let it alone checkpoint (an application checkpoint between two of its own makes it miss WAL
    # frames and take a full snapshot). The last connection to close still checkpoints as usual.
    if path.with_name(f".{path.name}-litestream").is_dir():
        conn.pragma("wal_autocheckpoint", 0)


def use_wal(conn: apsw.Connection) -> None:
    """WAL: readers never block the writer. NORMAL sync is durable across application crashes."""
    conn.pragma("journal_mode", "wal")
    conn.pragma("synchronous", "normal")


@contextlib.contextmanager
def write_transaction(conn: apsw.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE: take the write lock up front (waiting up to busy_timeout) so two writers
    never deadlock on a read-to-write upgrade. Nested use becomes a savepoint."""
    if conn.in_transaction:
        with conn:
            yield
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


# SQLite's low-level errors on the store file -> (memento error, what to tell the user).
_ERRORS = (
    (apsw.NotADBError, IncompatibleStoreError, "is not a SQLite database ({e}); it was left untouched"),
    (apsw.CorruptError, IncompatibleStoreError, "is corrupt ({e}); run `memento doctor`, restore a backup"),
    (apsw.ReadOnlyError, StoreError, "is read-only ({e}): check the file's and its folder's permissions"),
    (apsw.FullError, StoreError, ": the disk or the store is full ({e}); nothing was written"),
    (apsw.CantOpenError, StoreError, ": cannot open it ({e}): check that the folder exists and is writable"),
    (apsw.BusyError, StoreError, f"stayed locked by another process for over {BUSY_TIMEOUT_MS} ms ({{e}})"),
    (apsw.PermissionsError, StoreError, ": permission denied ({e})"),
)


@contextlib.contextmanager
def translate_errors(path: Path) -> Iterator[None]:
    """Turn SQLite's low-level errors on the store file into memento errors that say what to do."""
    try:
        yield
    except tuple(error for error, _, _ in _ERRORS) as e:
        for error, ours, message in _ERRORS:
            if isinstance(e, error):
                text = message.format(e=e)
                raise ours(f"{path}{'' if text.startswith(':') else ' '}{text}") from e
        raise

def load_vec0(conn: apsw.Connection) -> str:
    """Load sqlite-vec's vec0 extension by file path, then switch extension loading off again.

    The file is found without importing sqlite_vec (its helper imports numpy and stdlib sqlite3).
    Failure is an error, never a silent fall back to keyword-only search."""
    import importlib.util
    from .errors import TierUnavailableError
    spec = importlib.util.find_spec("sqlite_vec")
    if spec is None or not spec.submodule_search_locations:
        raise TierUnavailableError("vector tiers need sqlite-vec: pip install 'memento-openclaw[full]'")
    folder = Path(list(spec.submodule_search_locations)[0])
    candidates = [folder / f"vec0.{ext}" for ext in ("so", "dylib", "dll")]
    library = next((p for p in candidates if p.exists()), None)
    if library is None:
        raise TierUnavailableError(f"sqlite-vec is installed but has no vec0 library in {folder}; "
                                   "reinstall it: pip install --force-reinstall sqlite-vec")
    conn.enable_load_extension(True)
    try:
        conn.load_extension(str(library))
    except apsw.Error as e:
        raise TierUnavailableError(f"could not load the vec0 extension from {library}: {e}") from e
    finally:
        conn.enable_load_extension(False)
    return conn.execute("SELECT vec_version()").get
