"""The SQLite connection: setup as small named steps, WAL, transactions, error mapping.

storefile.py decides what to open and in which order (nothing here writes to the file until
`use_wal` or a write transaction, which storefile only reaches once the file is known to be ours).
"""
from __future__ import annotations

import contextlib
import os
import re
import time
from pathlib import Path
from typing import Iterator

import apsw

from .errors import IncompatibleStoreError, StoreError

BUSY_TIMEOUT_MS = 10_000  # concurrent agents wait for each other instead of "database is locked"


def connect(path: Path, *, immutable: bool = False) -> apsw.Connection:
    """Open the store file (created by storefile beforehand; SQLite creates nothing here).

    A file this process cannot write is opened read-only by SQLite itself. immutable: a store on
    read-only media whose -shm file cannot be made (see storefile); SQLite then takes no locks."""
    with translate_errors(path):
        if immutable:
            conn = apsw.Connection(Path(os.path.abspath(path)).as_uri() + "?immutable=1",
                                   flags=apsw.SQLITE_OPEN_READONLY | apsw.SQLITE_OPEN_URI)
        else:
            conn = apsw.Connection(str(path), flags=apsw.SQLITE_OPEN_READWRITE)
        _set_busy_timeout(conn)
        _disable_double_quoted_strings(conn)
        _enable_foreign_keys(conn)
        _keep_temp_tables_in_memory(conn)
        _leave_checkpoints_to_litestream(conn, path)
        _add_functions(conn)
    return conn


def _add_functions(conn: apsw.Connection) -> None:
    """memento_fold(name): how recall compares a speaker with the words of a question (the recall
    statements use it; the schema does not, so the sqlite3 shell reads every table without it)."""
    conn.create_scalar_function("memento_fold", fold_name, 1, deterministic=True)


def fold_name(name):
    """A name as its words, case-folded (Unicode, not SQLite's ASCII-only lower()): "Dr. Émile" and
    "dr émile" fold alike. Non-text passes through (a BLOB typed in the shell matches nothing)."""
    return " ".join(_WORD.findall(name.casefold())) if isinstance(name, str) else name


_WORD = re.compile(r"\w+")


def _set_busy_timeout(conn: apsw.Connection) -> None:
    conn.set_busy_timeout(BUSY_TIMEOUT_MS)


def _disable_double_quoted_strings(conn: apsw.Connection) -> None:
    # "text" must mean a column, never a string literal: typos fail loudly instead of matching nothing.
    conn.config(apsw.SQLITE_DBCONFIG_DQS_DML, 0)
    conn.config(apsw.SQLITE_DBCONFIG_DQS_DDL, 0)


def _enable_foreign_keys(conn: apsw.Connection) -> None:
    conn.pragma("foreign_keys", True)


def _keep_temp_tables_in_memory(conn: apsw.Connection) -> None:
    # Recall builds a dozen small temporary tables (materialized CTEs, ORDER BY ... LIMIT): with
    # temp_store=file each of them opens its own pager, ~0.4 ms of a 1 ms keyword recall at 10k
    # memories. Work that may hold the whole store in temporary tables sets it back to file for
    # its transaction: see temp_on_disk.
    conn.pragma("temp_store", "memory")


@contextlib.contextmanager
def temp_on_disk(conn: apsw.Connection) -> Iterator[None]:
    """Around a transaction (SQLite refuses the change inside one) whose temporary tables may hold
    the whole store: a migration's index sort, vector partitioning's staging table, a repair. They
    spill to a temporary file instead of RAM; recall's small ones go back to memory after."""
    conn.pragma("temp_store", "file")
    try:
        yield
    finally:
        conn.pragma("temp_store", "memory")


def _leave_checkpoints_to_litestream(conn: apsw.Connection, path: Path) -> None:
    # A store Litestream replicates has its `.NAME-litestream` folder beside it. Litestream's tips:
    # let it alone checkpoint (an application checkpoint between two of its own makes it miss WAL
    # frames and take a full snapshot). The last connection to close still checkpoints as usual.
    if path.with_name(f".{path.name}-litestream").is_dir():
        conn.pragma("wal_autocheckpoint", 0)


def use_wal(conn: apsw.Connection, path: Path, journal_mode: str) -> None:
    """WAL: readers never block the writer. NORMAL sync is durable across application crashes.

    The switch needs a moment alone with the file, and SQLite answers SQLITE_BUSY at once (without
    its busy handler) when another process is reading or switching too: retry within the busy timeout."""
    if journal_mode != "wal":
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        pause = 0.002
        while True:
            try:
                journal_mode = conn.pragma("journal_mode", "wal")
            except apsw.BusyError:
                if time.monotonic() >= deadline:
                    raise
            if journal_mode == "wal":
                break
            if time.monotonic() >= deadline:
                raise StoreError(f"{path}: could not switch the store to WAL (it stays in {journal_mode!r} mode)")
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
    conn.pragma("synchronous", "normal")


@contextlib.contextmanager
def write_transaction(conn: apsw.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE: take the write lock up front (waiting up to busy_timeout) so two writers
    never deadlock on a read-to-write upgrade. Nested use becomes a savepoint.

    COMMIT is inside the try: a COMMIT that fails (a deferred constraint, a full disk, an I/O error)
    rolls back, so the connection never stays inside a transaction where later writes would nest."""
    if conn.in_transaction:
        with conn:
            yield
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


@contextlib.contextmanager
def busy_timeout(conn: apsw.Connection, ms: int) -> Iterator[None]:
    """Wait at most ms for locks inside the block (0: fail at once with BusyError), then
    restore the connection's usual timeout."""
    conn.set_busy_timeout(ms)
    try:
        yield
    finally:
        _set_busy_timeout(conn)


@contextlib.contextmanager
def read_transaction(conn: apsw.Connection) -> Iterator[None]:
    """BEGIN (deferred): several reads see one snapshot of the file, and nothing is locked for writing."""
    conn.execute("BEGIN")
    try:
        yield
    finally:
        if conn.in_transaction:
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
