"""Schema versions: PRAGMA user_version counts the applied sql/migrations/NNN_*.sql files.

A store is recognised by its application_id and by the tables its version must have. A store from
a newer memento, a file of another application, or one that is almost a store (memento's id with
other tables, a schema version without the tables) is refused before anything is written to it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Dict, Tuple

import apsw

from . import sqlfiles
from .connection import temp_on_disk, write_transaction
from .errors import IncompatibleStoreError

APPLICATION_ID = 0x4D454D4F  # "MEMO"
UNTOUCHED = "it was left untouched"


def latest_version() -> int:
    return len(sqlfiles.migrations())


@dataclass(frozen=True)
class FileState:
    """What the file says about itself, read in one snapshot (see read_state)."""
    application_id: int
    user_version: int
    objects: int                               # rows in sqlite_schema
    journal_mode: str
    tables: Tuple[Tuple[str, Tuple[str, ...]], ...]  # columns of the tables its version must have

    @property
    def is_new(self) -> bool:
        return self.objects == 0 and self.user_version == 0 and self.application_id in (0, APPLICATION_ID)

    @property
    def is_current(self) -> bool:
        return self.user_version == latest_version() and self.application_id == APPLICATION_ID


def read_state(conn: apsw.Connection) -> FileState:
    """Read-only. Call it inside one transaction: the version and the tables must agree."""
    app_id, version, objects, journal_mode = conn.execute(sqlfiles.query("file_header")).fetchone()
    tables: Tuple = ()
    if app_id == APPLICATION_ID and 0 < version <= latest_version():
        expected = expected_tables(version)
        try:
            tables = _columns(conn, list(expected))
        except apsw.SQLError:
            tables = (("?", ("a table memento cannot read",)),)  # e.g. a virtual table of an unknown module
    return FileState(app_id, version, objects, journal_mode, tables)


def check(state: FileState, path: Path) -> None:
    """Refuse (IncompatibleStoreError) anything that is neither a new file nor a memento store."""
    if state.is_new:
        return
    if state.application_id != APPLICATION_ID:
        raise IncompatibleStoreError(
            f"{path} is a SQLite database of another application (application_id {state.application_id}, "
            f"user_version {state.user_version}); memento will not touch it: {UNTOUCHED}; choose another path")
    if state.user_version > latest_version():
        raise IncompatibleStoreError(
            f"{path} was written by a newer memento (schema {state.user_version}, this one knows up to "
            f"{latest_version()}); upgrade: pip install -U memento-openclaw. The file was left untouched.")
    if state.user_version == 0 or not _has_tables(state, expected_tables(state.user_version)):
        raise IncompatibleStoreError(
            f"{path} carries memento's application id but not the tables of a memento store (schema "
            f"{state.user_version}); {UNTOUCHED}: restore it from a backup or choose another path")


def migrate(conn: apsw.Connection, path: Path) -> None:
    """Apply every pending migration under one write lock, re-checking the file after taking it:
    another process may have created or upgraded the store between our first look and now."""
    # A migration may build an index over every memory: its sort spills to a temporary file.
    with temp_on_disk(conn), write_transaction(conn):
        state = read_state(conn)
        check(state, path)
        for migration in sqlfiles.migrations()[state.user_version:]:
            conn.execute(migration.sql)
            conn.pragma("user_version", migration.version)
        if state.application_id != APPLICATION_ID:
            conn.pragma("application_id", APPLICATION_ID)


TABLES_FILE = "tables.json"  # in sql/migrations: what build_tables(v) returns for every version v


@lru_cache(maxsize=None)
def _recorded_tables() -> Dict[str, Dict[str, Tuple[str, ...]]]:
    recorded = json.loads(sqlfiles.script("migrations", TABLES_FILE))
    return {version: {name: tuple(columns) for name, columns in tables.items()}
            for version, tables in recorded.items()}


def expected_tables(version: int) -> Dict[str, Tuple[str, ...]]:
    """The tables (and their columns) that migrations 1..version create, as recorded next to them.
    Recorded rather than built at every start: running all migrations on an in-memory database cost
    each process ~9 MB more (emulated Pi); tests/test_schema.py checks the record against the build."""
    try:
        return _recorded_tables()[str(version)]
    except KeyError:
        raise RuntimeError(f"sql/migrations/{TABLES_FILE} has no tables for schema {version}: "
                           "regenerate it: python -m memento.schema > sql/migrations/tables.json") from None


def build_tables(version: int) -> Dict[str, Tuple[str, ...]]:
    """The tables (and their columns) that migrations 1..version create, built in memory."""
    conn = apsw.Connection(":memory:")
    try:
        for migration in sqlfiles.migrations()[:version]:
            conn.execute(migration.sql)
        names = [row[0] for row in conn.execute(sqlfiles.query("table_names"))]
        return dict(_columns(conn, names))
    finally:
        conn.close()


def tables_record() -> str:
    """The text of sql/migrations/tables.json for the current migrations (one table per line)."""
    versions = []
    for version in range(1, latest_version() + 1):
        tables = ",\n".join(f"    {json.dumps(name)}: {json.dumps(list(columns))}"
                            for name, columns in build_tables(version).items())
        versions.append(f'  "{version}": {{\n{tables}\n  }}')
    return "{\n" + ",\n".join(versions) + "\n}\n"


def _columns(conn: apsw.Connection, tables: list) -> Tuple[Tuple[str, Tuple[str, ...]], ...]:
    found: Dict[str, list] = {name: [] for name in tables}
    for table, column in conn.execute(sqlfiles.query("table_columns"), {"tables": json.dumps(tables)}):
        found[table].append(column)
    return tuple((name, tuple(columns)) for name, columns in found.items())


def _has_tables(state: FileState, expected: Dict[str, Tuple[str, ...]]) -> bool:
    """Every table its version must have, with at least its columns (a column a user added in the
    sqlite3 shell is fine; an unrelated table of the same name is not)."""
    found = dict(state.tables)
    return all(set(columns) <= set(found.get(name, ())) for name, columns in expected.items())


if __name__ == "__main__":  # after a new migration: python -m memento.schema > sql/migrations/tables.json
    print(tables_record(), end="")
