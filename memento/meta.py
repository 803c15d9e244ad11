"""The store's record of itself (tier, model, dim) and its store-wide settings, both in store_meta.

The meta says which tier last opened the store and which model made its vectors (so a store is
never searched with another model's vectors); settings are what Memento.config reads and writes.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Optional

import apsw

from . import connection, sqlfiles


@dataclass(frozen=True)
class StoreMeta:
    """What store_meta records: the tier the store was last opened in, and its vectors' model and size."""
    tier: Optional[str] = None
    model: Optional[str] = None
    dim: Optional[int] = None



# -- the meta ------------------------------------------------------------------------------

def read_meta(conn: apsw.Connection) -> StoreMeta:
    values = dict(conn.execute(sqlfiles.query("all_meta")).fetchall())
    dim = values.get("dim")
    return StoreMeta(tier=values.get("tier"), model=values.get("model"),
                     dim=int(dim) if dim is not None and dim.isdigit() else None)


def record_meta(conn: apsw.Connection, path: Path, **fields) -> StoreMeta:
    """Record these fields (tier=, model=, dim=); takes the write lock only when one of them changes.
    Inside a caller's transaction it writes there. A read-only store keeps its record as it is."""
    current = read_meta(conn)
    wanted = replace(current, **fields)
    if wanted == current or conn.readonly("main"):
        return current
    with connection.translate_errors(path), connection.write_transaction(conn):
        now = read_meta(conn)  # under the lock: write only what still differs
        for key, value in fields.items():
            if getattr(now, key) != value:
                conn.execute(sqlfiles.query("set_meta"), {"key": key, "value": str(value)})
    return wanted



def read_setting(conn: apsw.Connection, key: str) -> Optional[str]:
    """A store-wide setting (Memento.config, e.g. half_life_days), kept in store_meta beside the meta."""
    row = conn.execute(sqlfiles.query("get_meta"), {"key": key}).fetchone()
    return row[0] if row else None


def write_setting(conn: apsw.Connection, key: str, value: Optional[str]) -> None:
    """Set (or, with None, remove) a store-wide setting, inside the caller's write transaction."""
    if value is None:
        conn.execute(sqlfiles.query("delete_meta"), {"key": key})
    else:
        conn.execute(sqlfiles.query("set_meta"), {"key": key, "value": value})
