"""Real checks on a store, for `memento doctor`: each one does the thing it checks.

examine() is what the command runs. It looks at the file before opening it as a store (present,
a SQLite header of the right length, quick_check on a read-only connection) and opens it only when
those pass, so a damaged file is reported and never written to. Every check catches its own
failure: doctor reports, it never dies with a traceback. repair() rebuilds what is derived from the
memories (keyword index, tag rows, vector bookkeeping) on a file whose pages are intact.
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import apsw

from . import db, fts_query, sqlfiles, validate
from .errors import IncompatibleStoreError

_SQLITE_MAGIC = b"SQLite format 3\x00"


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


@dataclass(frozen=True)
class Report:
    info: Dict[str, str]
    checks: Tuple[Check, ...]
    fixes: Tuple[Fix, ...] = ()

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)


class _Rollback(Exception):
    pass


def guarded(name: str, run: Callable[[], Check]) -> Check:
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
             ("owner-only file permissions", lambda: _permissions(path))]
    checks = [guarded(name, run) for name, run in steps]
    if vectors is not None:
        checks.extend(vectors.checks())
    return checks


# -- the command: look before opening ---------------------------------------------------------------

def examine(path: Path, *, tier: Optional[str] = None, repair: bool = False) -> Report:
    """Everything `memento doctor` reports on the store at `path`; never raises for a bad store.
    repair=True runs repair() first (only on a file whose pages passed quick_check)."""
    import platform
    from . import __version__, store
    info = {"memento": __version__, "python": platform.python_version(), "apsw": apsw.apsw_version(),
            "sqlite": apsw.sqlite_lib_version(), "store": str(path), "tier": "(not opened)"}
    checks = file_checks(path)
    if not all(c.ok for c in checks):
        return Report(info, tuple(checks))
    quick = _read_only_quick_check(path)
    checks.append(quick)
    if not quick.ok and "(the keyword index only" not in quick.detail:
        checks.append(Check("open the store", False, "not opened: doctor never writes to a damaged file. "
                            "Restore a backup, or save what is readable with the sqlite3 shell's .recover"))
        return Report(info, tuple(checks))
    try:
        mem = store.open(path, tier=tier)
    except Exception as e:  # noqa: BLE001 - doctor reports every failure instead of raising
        checks.append(Check("open the store", False, f"{type(e).__name__}: {e}"))
        return Report(info, tuple(checks))
    fixes: Tuple[Fix, ...] = ()
    with mem:
        info.update(tier=mem.tier, tier_reason=f"{mem.tier_choice.source}: {mem.tier_choice.reason}")
        stored = mem.meta()
        if mem.model is None and stored.get("model"):
            info["vectors"] = (f"{stored['model']} vectors not checked (keyword-only visit): "
                               f"add --tier {stored.get('tier', 'full')}")
        if repair:
            try:
                fixes = tuple(mem.repair())
                if fixes:   # look again: the first look saw the index before it was rebuilt
                    checks[checks.index(quick)] = _read_only_quick_check(path)
            except Exception as e:  # noqa: BLE001 - reported, and the checks below say what is wrong
                checks.append(Check("repair", False, f"{type(e).__name__}: {e}"))
        checks.extend(mem.doctor())
    return Report(info, tuple(checks), fixes)


def file_checks(path: Path) -> List[Check]:
    """What can be told from the file alone, without SQLite: it is there, and it is a whole database."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return [Check("store file", False, f"no store at {path} (doctor creates none)")]
    except OSError as e:
        return [Check("store file", False, f"cannot read {path}: {e}")]
    if not stat.S_ISREG(st.st_mode):
        return [Check("store file", False, f"{path} is not a regular file ({stat.filemode(st.st_mode)})")]
    if st.st_size == 0:
        return [Check("store file", False, f"{path} is empty (0 bytes): not a memento store")]
    checks = [Check("store file", True, f"{st.st_size} bytes")]
    try:
        with open(path, "rb") as f:
            header = f.read(100)
    except OSError as e:
        return checks + [Check("SQLite header", False, f"cannot read {path}: {e}")]
    if not header.startswith(_SQLITE_MAGIC):
        return checks + [Check("SQLite header", False, "not a SQLite database (no 'SQLite format 3' header)")]
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    declared = int.from_bytes(header[28:32], "big") * page_size
    # Pages missing from the file may still be in its WAL (not yet checkpointed).
    if len(header) < 100 or (declared > st.st_size and not Path(f"{path}-wal").exists()):
        return checks + [Check("SQLite header", False, f"truncated: {st.st_size} bytes, the header "
                               f"declares {declared}; restore a backup")]
    return checks + [Check("SQLite header", True, f"{page_size}-byte pages")]


def _read_only_quick_check(path: Path) -> Check:
    """PRAGMA quick_check without writing anything: while the store has no -wal file (no writer is
    active, everything is in the main file) the file is opened immutable, so SQLite does not even
    create -wal/-shm next to it. A WAL that appears meanwhile may mean a checkpoint tore the read:
    then, and when a WAL was there from the start, a plain read-only connection checks again."""
    name = "sqlite quick_check (read-only)"
    wal = Path(f"{path}-wal")

    def run() -> Check:
        rows = None
        if not wal.exists():
            rows = _quick_check(path, immutable=True)
        if rows is None or (rows != ["ok"] and wal.exists()):
            rows = _quick_check(path, immutable=False)
        detail = "; ".join(rows[:5])
        if rows != ["ok"] and not damaged_pages(rows):
            detail += " (the keyword index only: `memento doctor --repair` rebuilds it from the memories)"
        return Check(name, rows == ["ok"], detail)
    return guarded(name, run)


def damaged_pages(rows: List[str]) -> List[str]:
    """The rows of integrity_check/quick_check that are about the file itself. SQLite also runs FTS5's
    own check there and reports it as "fts5: ..."; that index is derived from memories and repair()
    rebuilds it, so it alone does not make the file damaged."""
    return [r for r in rows if r != "ok" and not r.startswith("fts5:")]


def _quick_check(path: Path, immutable: bool) -> List[str]:
    from urllib.parse import quote
    uri = f"file:{quote(str(path.absolute()))}" + ("?immutable=1" if immutable else "")
    conn = apsw.Connection(uri, flags=apsw.SQLITE_OPEN_READONLY | apsw.SQLITE_OPEN_URI)
    try:
        conn.set_busy_timeout(db.BUSY_TIMEOUT_MS)
        return [r[0] for r in conn.execute(sqlfiles.query("quick_check"))]
    finally:
        conn.close()


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
    with db.translate_errors(path), db.write_transaction(conn):
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
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if p.exists() and p.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            p.chmod(stat.S_IMODE(p.stat().st_mode) & stat.S_IRWXU)
            changed.append(p.name)
    return [Fix("permissions", len(changed), f"owner-only: {', '.join(changed)}")] if changed else []


# -- the checks ------------------------------------------------------------------------------------

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
