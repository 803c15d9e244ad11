"""A store's health: real checks on an open store, each doing the thing it checks, and repair.

Memento.doctor() and Memento.repair() call these with the store's connection; the `memento doctor`
command (cli/doctor.py) adds the look at the file before it is opened. Every check catches its own
failure: a check reports, it never raises. repair() rebuilds what is derived from the memories
(keyword index, tag rows, vector bookkeeping) on a file whose pages are intact.
"""
from __future__ import annotations

import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List

import apsw

from . import connection, files, fts_query, sqlfiles, times
from .errors import IncompatibleStoreError


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Fix:
    """Something repair() changed: what, how many rows (or files), and what it did."""
    name: str
    count: int
    detail: str


class _Rollback(Exception):
    pass


def run_check(name: str, run: Callable[[], Check]) -> Check:
    """Run one check; a SQLite error inside it (a damaged page, a missing table) fails that check."""
    try:
        return run()
    except apsw.Error as e:
        return Check(name, False, f"{type(e).__name__}: {e}")


def run_checks(conn: apsw.Connection, path: Path, vectors=None) -> List[Check]:
    steps = [("write + keyword search", lambda: _write_and_search(conn)),
             ("sqlite integrity_check", lambda: _integrity(conn)),
             ("FTS5 integrity-check", lambda: _fts_integrity(conn)),
             ("FTS rows = memories", lambda: _fts_in_step(conn)),
             ("tag rows = memories.tags", lambda: _tags_in_step(conn)),
             ("text columns hold text", lambda: _values_are_text(conn)),
             ("owner-only file permissions", lambda: _permissions(path))]
    checks = [run_check(name, run) for name, run in steps]
    if vectors is not None:
        checks.extend(vectors.checks())
    return checks


def damaged_pages(rows: List[str]) -> List[str]:
    """The rows of integrity_check/quick_check that are about the file itself. SQLite also runs FTS5's
    own check there and reports it as "fts5: ..."; that index is derived from memories and repair()
    rebuilds it, so it alone does not make the file damaged."""
    return [r for r in rows if r != "ok" and not r.startswith("fts5:")]


# -- repair ----------------------------------------------------------------------------------------

def repair(conn: apsw.Connection, path: Path, vectors=None) -> List[Fix]:
    """Rebuild what drifted from the memories: keyword index, tag rows, vector bookkeeping (vector
    tiers), file permissions. One transaction; refuses a file whose pages are damaged (rebuilding
    from damaged rows would spread the damage)."""
    try:
        damage = damaged_pages([r[0] for r in conn.execute(sqlfiles.query("integrity_check"))])
    except apsw.Error as e:
        damage = [f"{type(e).__name__}: {e}"]
    if damage:
        raise IncompatibleStoreError(f"{path} is damaged (integrity_check: {'; '.join(damage[:5])}); repair "
                                     "only rebuilds indexes from intact memories: restore a backup")
    fixes: List[Fix] = []
    # The caller (Memento.repair) translates SQLite's errors; rebuilt indexes sort on disk.
    with connection.temp_on_disk(conn), connection.write_transaction(conn):
        fixes += _repair_keyword_index(conn)
        fixes += _repair_tags(conn)
        if vectors is not None:
            fixes += vectors.repair()
    fixes += _repair_permissions(path)
    return fixes


def _repair_keyword_index(conn: apsw.Connection) -> List[Fix]:
    out_of_step = conn.execute(sqlfiles.query("fts_rows_out_of_step")).get
    if out_of_step == 0 and _fts_integrity(conn).ok:
        return []
    conn.execute(sqlfiles.query("fts_rebuild"))
    memories = conn.execute(sqlfiles.query("count_memories")).get
    return [Fix("keyword index", out_of_step, f"rebuilt from {memories} memories "
                f"({out_of_step} rows were missing or stray)")]


def _repair_tags(conn: apsw.Connection) -> List[Fix]:
    wrong = conn.execute(sqlfiles.query("tag_rows_out_of_step")).get
    if wrong == 0:
        return []
    conn.execute(sqlfiles.query("tags_clear"))
    conn.execute(sqlfiles.query("tags_rebuild"))
    return [Fix("tag rows", wrong, "rebuilt from memories.tags")]


def _repair_permissions(path: Path) -> List[Fix]:
    changed = []
    for p in files.loose_permissions(path):
        files.make_owner_only(p)
        changed.append(p.name)
    return [Fix("permissions", len(changed), f"owner-only: {', '.join(changed)}")] if changed else []


# -- the checks ------------------------------------------------------------------------------------

def _write_and_search(conn: apsw.Connection) -> Check:
    """Insert a memory, find it through FTS, then roll back: proves writes and search work."""
    word = "doctorprobe"
    try:
        with connection.write_transaction(conn):
            now = times.now_utc()
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


def _values_are_text(conn: apsw.Connection) -> Check:
    wrong = conn.execute(sqlfiles.query("non_text_values")).get
    return Check("text columns hold text", wrong == 0,
                 f"{wrong} memories hold a BLOB or a number in text, created_at, updated_at, thread or "
                 "expires_at (read as text; fix them in the sqlite3 shell, e.g. UPDATE memories SET text = "
                 "CAST(text AS TEXT) WHERE typeof(text) = 'blob')" if wrong else "every row")


def _permissions(path: Path) -> Check:
    """Memories are private: the store and its -wal/-shm files should be readable by the owner only."""
    loose = [f"{p.name} is {stat.filemode(p.stat().st_mode)}" for p in files.loose_permissions(path)]
    return Check("owner-only file permissions", not loose,
                 "; ".join(loose) + " (fix: chmod 600)" if loose else "0600")
