"""Schema versions: PRAGMA user_version counts the applied sql/migrations/NNN_*.sql files.

A store is recognised by its application_id. A store from a newer memento, or a file of another
application, is refused before anything is written to it.
"""
from __future__ import annotations

import apsw

from . import sqlfiles
from .db import write_transaction
from .errors import IncompatibleStoreError

APPLICATION_ID = 0x4D454D4F  # "MEMO"


def latest_version() -> int:
    return len(sqlfiles.migrations())


def ensure_compatible(conn: apsw.Connection, path) -> None:
    """Read-only check: refuse files of other applications and stores written by a newer memento."""
    app_id = conn.pragma("application_id")
    version = conn.pragma("user_version")
    is_empty = conn.execute("SELECT count(*) FROM sqlite_schema").get == 0
    if is_empty and app_id == 0:
        return  # a brand-new file: ours to set up
    if app_id != APPLICATION_ID:
        raise IncompatibleStoreError(
            f"{path} is a SQLite database of another application (application_id {app_id}); "
            "memento will not touch it: choose another path")
    if version > latest_version():
        raise IncompatibleStoreError(
            f"{path} was written by a newer memento (schema {version}, this one knows up to "
            f"{latest_version()}); upgrade: pip install -U memento-openclaw. The file was left untouched.")


def migrate(conn: apsw.Connection) -> int:
    """Apply pending migrations, each in its own transaction; returns the schema version."""
    for migration in sqlfiles.migrations():
        with write_transaction(conn):
            # Re-read inside the write lock: another process may have just migrated.
            if conn.pragma("user_version") >= migration.version:
                continue
            conn.execute(migration.sql)
            conn.pragma("application_id", APPLICATION_ID)
            conn.pragma("user_version", migration.version)
    return conn.pragma("user_version")
