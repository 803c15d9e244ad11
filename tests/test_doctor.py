"""`memento doctor` on damaged files, and `doctor --repair` on indexes that drifted.

Damage is made the way it happens: pages overwritten in the middle of a real store, a file cut short,
a file that is not a store at all. Doctor must report each check as ok or failed and exit 1, never
raise, and never write to a damaged file.
"""
from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import apsw
import pytest

import memento
from memento.cli import main

PAGE = 4096
WORDS = ("tea coffee kitten garage budget Lisbon printer toner dentist fence jazz piano whale chess "
         "tomato sourdough bread rust compiler mountain bike").split()


def run(capsys, *argv) -> tuple:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _real_store(path: Path, n: int = 400) -> Path:
    """A store of n short memories (no overflow pages: every page is a b-tree page SQLite checks)."""
    rng = random.Random(7)
    with memento.open(path, tier="minimal") as mem:
        mem.remember_many([{"text": " ".join(rng.choice(WORDS) for _ in range(25)) + f" note {i}",
                            "tags": [rng.choice(WORDS)]} for i in range(n)])
    assert not Path(f"{path}-wal").exists()   # closed: everything is in the main file
    return path


def _overwrite_pages(path: Path, first: int, count: int, byte: int = None) -> None:
    rng = random.Random(first)
    with open(path, "r+b") as f:
        f.seek(first * PAGE)
        for _ in range(count):
            f.write(bytes([byte]) * PAGE if byte is not None else rng.randbytes(PAGE))


def _middle(path: Path) -> int:
    return path.stat().st_size // PAGE // 2


def garbage_in_the_middle(path):
    _overwrite_pages(path, _middle(path), 3)


def garbage_in_the_memories_table(path):
    """Random bytes over three pages of the memories table itself (found with dbstat), so every read
    of the memories meets them whatever the rest of the file's layout."""
    conn = apsw.Connection(str(path))
    try:
        pages = [row[0] for row in conn.execute("SELECT pageno FROM dbstat WHERE name = 'memories' "
                                                "AND pagetype = 'leaf' ORDER BY pageno")]
    finally:
        conn.close()
    middle = pages[len(pages) // 2 - 1:len(pages) // 2 + 2]
    for page in middle:
        _overwrite_pages(path, page - 1, 1)   # pageno counts from 1


def zeroed_pages_in_the_middle(path):
    _overwrite_pages(path, _middle(path), 2, byte=0)


def one_page_of_ones(path):
    _overwrite_pages(path, _middle(path) + 1, 1, byte=0xFF)


def damaged_schema_page(path):
    with open(path, "r+b") as f:
        f.seek(100)   # the header stays intact; sqlite_schema's b-tree page does not
        f.write(random.Random(1).randbytes(PAGE - 100))


def truncated_in_half(path):
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])


def header_only(path):
    path.write_bytes(path.read_bytes()[:100])


def not_sqlite(path):
    path.write_bytes(random.Random(3).randbytes(path.stat().st_size))


def empty(path):
    path.write_bytes(b"")


def other_application(path):
    path.unlink()
    conn = apsw.Connection(str(path))
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL); INSERT INTO invoices VALUES (1, 9.5)")
    conn.close()


DAMAGE = [garbage_in_the_middle, zeroed_pages_in_the_middle, one_page_of_ones, damaged_schema_page,
          truncated_in_half, header_only, not_sqlite, empty, other_application]


@pytest.mark.parametrize("damage", DAMAGE, ids=lambda f: f.__name__)
def test_doctor_reports_a_damaged_store_and_exits_1(capsys, store_path, damage):
    """Issue 11.8: whatever the damage, each check is listed as ok or FAIL, exit 1, no traceback,
    and the damaged file is left byte-for-byte as it was (no WAL switch, no migration, no probe)."""
    damage(_real_store(store_path))
    before = hashlib.sha256(store_path.read_bytes()).hexdigest()
    code, out, err = run(capsys, "doctor", "--db", str(store_path))
    assert code == 1, out + err
    assert "[FAIL]" in out and "Traceback" not in out + err
    lines = [line for line in out.splitlines() if line.startswith("  [")]
    assert lines and all(line.startswith(("  [ok]", "  [FAIL]")) for line in lines), out
    code, out, _ = run(capsys, "doctor", "--db", str(store_path), "--json")
    report = json.loads(out)
    assert code == 1 and report["ok"] is False
    assert any(not c["ok"] for c in report["checks"]) and all(c["detail"] for c in report["checks"])
    assert hashlib.sha256(store_path.read_bytes()).hexdigest() == before
    assert not Path(f"{store_path}-wal").exists()


@pytest.mark.parametrize("command", [["recall", "tea"], ["list"], ["export"]], ids=lambda c: c[0])
def test_other_commands_on_a_damaged_store_say_to_run_doctor(capsys, store_path, command):
    """Reads that meet a damaged page raised a raw apsw.CorruptError traceback. (Commands that never
    read the damaged page, e.g. get of another id, still work: SQLite only sees what it reads.)"""
    garbage_in_the_memories_table(_real_store(store_path))
    code, out, err = run(capsys, *command, "--db", str(store_path))
    assert code == 1 and "memento doctor" in err and "Traceback" not in err


def test_library_reads_on_a_damaged_store_raise_our_error_naming_doctor(store_path):
    """recall/iter/count from Python raised a raw apsw.CorruptError (only the CLI translated it)."""
    garbage_in_the_memories_table(_real_store(store_path))
    with memento.open(store_path, tier="minimal") as mem:
        for read in (lambda: mem.recall("tea note", k=500), lambda: list(mem.iter()),
                     lambda: [mem.get(i) for i in range(1, 401)]):
            with pytest.raises(memento.MementoError, match="memento doctor"):
                read()


def test_doctor_reports_damage_inside_intact_pages(capsys, store_path):
    """Pages SQLite finds well-formed, content that is not: garbled FTS5 index blobs. The store
    opens; the checks that read the index fail one by one instead of raising."""
    _real_store(store_path)
    conn = apsw.Connection(str(store_path))
    conn.execute("UPDATE memories_fts_data SET block = randomblob(length(block)) WHERE id > 10")
    conn.close()
    code, out, err = run(capsys, "doctor", "--db", str(store_path))
    assert code == 1 and "[FAIL] sqlite quick_check (read-only): fts5: corruption" in out
    assert "[FAIL] FTS5 integrity-check" in out and "Traceback" not in out + err   # opened: pages intact
    code, out, _ = run(capsys, "doctor", "--repair", "--db", str(store_path))
    assert code == 0 and "repaired: keyword index" in out, out
    with memento.open(store_path, tier="minimal") as mem:
        found = {h.id for h in mem.recall("Lisbon", k=500)}
        assert found and found == {m.id for m in mem.iter() if "Lisbon" in m.text or "lisbon" in m.tags}


def test_doctor_on_a_missing_store_creates_nothing(capsys, tmp_path):
    path = tmp_path / "nowhere" / "memento.db"
    code, out, _ = run(capsys, "doctor", "--db", str(path))
    assert code == 1 and "[FAIL] store file" in out
    assert not path.parent.exists()


def test_doctor_repair_refuses_a_corrupt_store(capsys, store_path):
    garbage_in_the_middle(_real_store(store_path))
    before = hashlib.sha256(store_path.read_bytes()).hexdigest()
    code, out, _ = run(capsys, "doctor", "--repair", "--db", str(store_path))
    assert code == 1 and "[FAIL] sqlite quick_check (read-only)" in out and "backup" in out
    assert hashlib.sha256(store_path.read_bytes()).hexdigest() == before


def test_doctor_on_a_healthy_store_is_all_ok(capsys, store_path):
    _real_store(store_path, n=20)
    code, out, _ = run(capsys, "doctor", "--db", str(store_path))
    assert code == 0 and "[FAIL]" not in out and "[ok] sqlite integrity_check" in out
    code, out, _ = run(capsys, "doctor", "--db", str(store_path), "--json")   # crashed: Check is no JSON
    report = json.loads(out)
    assert code == 0 and report["ok"] is True and report["info"]["tier"] == "minimal"
    assert {c["name"] for c in report["checks"]} >= {"store file", "sqlite integrity_check", "FTS rows = memories"}


# -- repair -----------------------------------------------------------------------------------------

def _drift_the_keyword_side(path: Path) -> None:
    """What a crash of an old version, or an edit in the sqlite3 shell without triggers, leaves."""
    conn = apsw.Connection(str(path))
    conn.execute("INSERT INTO memories_fts (memories_fts, rowid, text, tags) "
                 "SELECT 'delete', id, text, tags FROM memories WHERE id % 2 = 0")
    conn.execute("DELETE FROM memory_tags WHERE memory_id % 3 = 0")
    conn.execute("INSERT INTO memory_tags (tag, memory_id) VALUES ('stray', 1)")
    conn.close()
    path.chmod(0o644)


def test_doctor_repair_fixes_a_drifted_keyword_index(capsys, store_path):
    """Issue 11.3 (doctor had no way to repair): FTS rows, tag rows and loose permissions."""
    _real_store(store_path, n=30)
    with memento.open(store_path, tier="minimal") as mem:
        kitten = mem.remember("the only memory about a zebra", tags=["zoo"])
    _drift_the_keyword_side(store_path)
    code, out, _ = run(capsys, "doctor", "--db", str(store_path))
    assert code == 1 and "[FAIL] FTS rows = memories" in out and "[FAIL] tag rows" in out
    code, out, _ = run(capsys, "doctor", "--repair", "--db", str(store_path))
    assert code == 0, out
    assert "repaired: keyword index" in out and "repaired: tag rows" in out and "repaired: permissions" in out
    assert "[FAIL]" not in out
    code, out, _ = run(capsys, "doctor", "--db", str(store_path))
    assert code == 0 and "[FAIL]" not in out
    with memento.open(store_path, tier="minimal") as mem:
        assert [h.id for h in mem.recall("zebra")] == [kitten.id]
        assert [m.id for m in mem.iter(tags=["zoo"])] == [kitten.id]
        assert mem.count() == 31 and list(mem.iter(tags=["stray"])) == []
        assert mem.repair() == []     # nothing left to fix


def test_repair_reports_what_it_fixed(store_path):
    _real_store(store_path, n=30)
    _drift_the_keyword_side(store_path)
    with memento.open(store_path, tier="minimal") as mem:
        fixes = {f.name: f for f in mem.repair()}
        assert set(fixes) == {"keyword index", "tag rows", "permissions"}
        assert fixes["keyword index"].count == 15      # the 15 even ids had left the index
        assert fixes["tag rows"].count == 11           # 10 missing rows + 1 stray
        assert all(c.ok for c in mem.doctor()), [c for c in mem.doctor() if not c.ok]
        assert store_path.stat().st_mode & 0o777 == 0o600
