"""Real checks on a store, for `memento doctor`: each one does the thing it checks."""
from __future__ import annotations

import stat
from dataclasses import dataclass
from pathlib import Path
from typing import List

import apsw

from . import db, fts_query, sqlfiles, validate


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


class _Rollback(Exception):
    pass


def run_checks(conn: apsw.Connection, path: Path, vectors=None) -> List[Check]:
    checks = [_write_and_search(conn), _integrity(conn), _fts_integrity(conn), _fts_in_step(conn),
              _tags_in_step(conn), _permissions(path)]
    if vectors is not None:
        checks.extend(vectors.checks())
    return checks


def _write_and_search(conn: apsw.Connection) -> Check:
    """Insert a memory, find it through FTS, then roll back: proves writes and search work."""
    word = "doctorprobe"
    try:
        with db.write_transaction(conn):
            now = validate.now_utc()
            new_id = conn.execute(sqlfiles.query("probe_insert"), {"text": f"memento {word}", "now": now}).get
            found = [r[0] for r in conn.execute(sqlfiles.query("probe_match"), {"match": fts_query.build(word)})]
            raise _Rollback(new_id in found)
    except _Rollback as outcome:
        ok = outcome.args[0]
        return Check("write + keyword search", ok, "wrote, found and rolled back a probe" if ok
                     else "the probe was written but FTS did not find it")
    except apsw.Error as e:
        return Check("write + keyword search", False, f"{type(e).__name__}: {e}")


def _integrity(conn: apsw.Connection) -> Check:
    rows = [r[0] for r in conn.execute(sqlfiles.query("integrity_check"))]
    return Check("sqlite integrity_check", rows == ["ok"], "; ".join(rows[:5]))


def _fts_integrity(conn: apsw.Connection) -> Check:
    try:
        conn.execute(sqlfiles.query("fts_integrity_check"))
        return Check("FTS5 integrity-check", True, "index matches memories")
    except apsw.Error as e:
        return Check("FTS5 integrity-check", False, f"{e}: rebuild with "
                     "INSERT INTO memories_fts(memories_fts) VALUES('rebuild')")


def _fts_in_step(conn: apsw.Connection) -> Check:
    memories = conn.execute(sqlfiles.query("count_memories")).get
    indexed = conn.execute(sqlfiles.query("fts_row_count")).get
    return Check("FTS rows = memories", memories == indexed, f"{indexed} indexed, {memories} memories")


def _tags_in_step(conn: apsw.Connection) -> Check:
    wrong = conn.execute(sqlfiles.query("tag_rows_out_of_step")).get
    return Check("tag rows = memories.tags", wrong == 0, f"{wrong} rows out of step")


def _permissions(path: Path) -> Check:
    """Memories are private: the store and its -wal/-shm files should be readable by the owner only."""
    loose = []
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if p.exists() and p.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            loose.append(f"{p.name} is {stat.filemode(p.stat().st_mode)}")
    return Check("owner-only file permissions", not loose,
                 "; ".join(loose) + " (fix: chmod 600)" if loose else "0600")
