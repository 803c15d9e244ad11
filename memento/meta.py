"""The store's record of itself (tier, model, dim) and its store-wide settings, both in store_meta.

The meta says which tier last opened the store and which model made its vectors (so a store is
never searched with another model's vectors); settings are what Memento.config reads and writes.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Dict, Mapping, Optional

import apsw

from . import connection, sqlfiles
from .errors import InvalidInputError


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


# -- importers' read positions -------------------------------------------------------------

POSITION_PREFIX = "position:"   # store_meta keys of read positions (all_meta leaves them out)


def position_key(key: str) -> str:
    """A read position's key, checked: it must start with POSITION_PREFIX (never a meta or setting key)."""
    if not isinstance(key, str) or not key.startswith(POSITION_PREFIX) or len(key) == len(POSITION_PREFIX):
        raise InvalidInputError(f"a position key must be a str starting with {POSITION_PREFIX!r}, not {key!r}")
    return key


def read_positions(conn: apsw.Connection, prefix: str) -> Dict[str, str]:
    """Every read position whose key starts with prefix, in one primary-key range read."""
    if not isinstance(prefix, str) or not prefix.startswith(POSITION_PREFIX):
        raise InvalidInputError(f"a position prefix must be a str starting with {POSITION_PREFIX!r}, not {prefix!r}")
    high = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return dict(conn.execute(sqlfiles.query("meta_range"), {"low": prefix, "high": high}).fetchall())


def write_positions(conn: apsw.Connection, positions: Mapping[str, Optional[str]]) -> None:
    """Set (None: remove) read positions, inside the caller's write transaction."""
    for key, value in positions.items():
        write_setting(conn, key, value)
