"""`memento doctor`: look at the store's file before opening it, then run the store's own checks.

The file is looked at first (present, a SQLite header of the right length, quick_check on a
read-only connection) and opened as a store only when those pass, so a damaged file is reported and
never written to. Then Memento.doctor() runs the checks of memento/health.py. Doctor reports every
failure; it never dies with a traceback.
"""
from __future__ import annotations

import os
import platform
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import apsw

from .. import __version__, connection, files, sqlfiles, store
from ..health import Check, Fix, damaged_pages, run_check


@dataclass(frozen=True)
class Report:
    info: Dict[str, str]
    checks: Tuple[Check, ...]
    fixes: Tuple[Fix, ...] = ()

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)



def examine(path: Path, *, tier: Optional[str] = None, repair: bool = False) -> Report:
    """Everything `memento doctor` reports on the store at `path`; never raises for a bad store.
    repair=True runs repair() first (only on a file whose pages passed quick_check)."""
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
        if mem.model is None and stored.model:
            info["vectors"] = (f"{stored.model} vectors not checked (keyword-only visit): "
                               f"add --tier {stored.tier or 'full'}")
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
            header = f.read(files.HEADER_BYTES)
    except OSError as e:
        return checks + [Check("SQLite header", False, f"cannot read {path}: {e}")]
    parsed = files.parse_header(header)
    if not parsed.is_sqlite:
        return checks + [Check("SQLite header", False, "not a SQLite database (no 'SQLite format 3' header)")]
    if parsed.truncated(st.st_size, has_wal=files.wal(path).exists()):
        return checks + [Check("SQLite header", False, f"truncated: {st.st_size} bytes, the header "
                               f"declares {parsed.declared_bytes}; restore a backup")]
    return checks + [Check("SQLite header", True, f"{parsed.page_size}-byte pages")]


def _read_only_quick_check(path: Path) -> Check:
    """PRAGMA quick_check without writing anything: while the store has no -wal file (no writer is
    active, everything is in the main file) the file is opened immutable, so SQLite does not even
    create -wal/-shm next to it. A WAL that appears meanwhile may mean a checkpoint tore the read:
    then, and when a WAL was there from the start, a plain read-only connection checks again."""
    name = "sqlite quick_check (read-only)"
    wal = files.wal(path)

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
    return run_check(name, run)


def _quick_check(path: Path, immutable: bool) -> List[str]:
    from urllib.parse import quote
    uri = f"file:{quote(str(path.absolute()))}" + ("?immutable=1" if immutable else "")
    conn = apsw.Connection(uri, flags=apsw.SQLITE_OPEN_READONLY | apsw.SQLITE_OPEN_URI)
    try:
        conn.set_busy_timeout(connection.BUSY_TIMEOUT_MS)
        return [r[0] for r in conn.execute(sqlfiles.query("quick_check"))]
    finally:
        conn.close()
