"""`memento import FILE.jsonl` says what it did with each line: added, merged into a memory with the
same text, or skipped because the line is a memory of this store already (its export id and text);
an export imported back into its own store, history included, adds nothing."""
from __future__ import annotations

import json

import memento
from memento.cli import main


def run(capsys, *argv):
    """The command line, keyword-only (no model to load)."""
    code = main([str(a) for a in argv] + ["--tier", "minimal"])
    out, err = capsys.readouterr()
    return code, out, err


def test_an_export_imported_into_its_own_store_is_skipped_line_by_line(tmp_path, capsys):
    db = tmp_path / "s.db"
    with memento.open(db, tier="minimal") as mem:
        old = mem.remember("Alice drinks coffee")
        mem.remember("Alice drinks green tea", supersedes=old.id)          # history: a superseded fact
        mem.remember("the kiwi was ripe", expires_at="2026-01-01T00:00:00Z")   # expired, not pruned
        mem.remember("Bob is allergic to peanuts")
        total = mem.count(include_superseded=True, include_expired=True)
    code, dump, _ = run(capsys, "export", "--db", db)
    (tmp_path / "dump.jsonl").write_text(dump, encoding="utf-8")
    code, out, _ = run(capsys, "import", tmp_path / "dump.jsonl", "--db", db, "--json")
    assert code == 0 and json.loads(out) == {"added": 0, "merged": 0, "skipped": 4}
    with memento.open(db, tier="minimal") as mem:
        assert mem.count(include_superseded=True, include_expired=True) == total


def test_added_merged_and_skipped_are_reported_for_json_and_for_people(tmp_path, capsys):
    db = tmp_path / "s.db"
    with memento.open(db, tier="minimal") as mem:
        mine = mem.remember("the store's own fact")
        mem.remember("a text stored already")
    lines = [{"id": mine.id, "text": "the store's own fact", "created_at": mine.created_at},
             {"id": mine.id + 10, "text": "the store's own fact", "created_at": mine.created_at},  # not its id
             {"text": "a text stored already"},
             {"text": "a new fact"}, {"id": mine.id + 50, "text": "another new fact"}]
    f = tmp_path / "in.jsonl"
    f.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    code, out, _ = run(capsys, "import", f, "--db", db, "--json")
    assert code == 0 and json.loads(out) == {"added": 2, "merged": 2, "skipped": 1}
    code, out, _ = run(capsys, "import", f, "--db", tmp_path / "other.db")
    assert code == 0 and out == "5 lines: 4 added, 1 merged, 0 skipped\n"
    (tmp_path / "one.jsonl").write_text('"one fact"\n', encoding="utf-8")
    code, out, _ = run(capsys, "import", tmp_path / "one.jsonl", "--db", db)
    assert code == 0 and out == "1 line: 1 added, 0 merged, 0 skipped\n"
