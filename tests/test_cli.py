"""The `memento` command, in-process through main(). As a real console script: test_cli_console.py."""
from __future__ import annotations

import json

import pytest

import memento
from memento.cli import main


def run(capsys, *argv) -> tuple:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_remember_recall_get_forget(capsys, store_path):
    db = ["--db", str(store_path)]
    code, out, _ = run(capsys, "remember", "Alice switched to green tea", "--tag", "prefs",
                       "--meta", "src=chat", *db, "--json")
    assert code == 0
    made = json.loads(out)
    assert made["tags"] == ["prefs"] and made["metadata"] == {"src": "chat"}

    code, out, _ = run(capsys, "recall", "what does alice drink? tea", "-k", "3", *db, "--json")
    hits = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [h["id"] for h in hits] == [made["id"]]

    code, out, _ = run(capsys, "recall", "tea", *db)
    assert code == 0 and "Alice switched to green tea" in out and out.startswith("id")

    code, out, _ = run(capsys, "get", str(made["id"]), *db, "--json")
    assert json.loads(out)["text"] == "Alice switched to green tea"

    assert run(capsys, "forget", str(made["id"]), *db)[0] == 0
    code, _, err = run(capsys, "get", str(made["id"]), *db)
    assert code == 1 and "no memory with id" in err


def test_export_import_roundtrip(capsys, tmp_path):
    src, dst = ["--db", str(tmp_path / "a.db")], ["--db", str(tmp_path / "b.db")]
    for text, tag in [("first note", "x"), ("second note", "y"), ("third ü note", "x")]:
        run(capsys, "remember", text, "--tag", tag, *src)
    _, exported, _ = run(capsys, "export", *src)
    (tmp_path / "dump.jsonl").write_text(exported, encoding="utf-8")
    code, _, err = run(capsys, "import", str(tmp_path / "dump.jsonl"), *dst)
    assert code == 0 and "import" in err and "3/3" in err
    _, out, _ = run(capsys, "list", *dst, "--json")
    assert [json.loads(line)["text"] for line in out.splitlines()] == ["first note", "second note", "third ü note"]
    _, out, _ = run(capsys, "list", "--tag", "x", *dst, "--json")
    assert len(out.splitlines()) == 2


def test_import_with_a_bad_line_imports_nothing(capsys, tmp_path):
    f = tmp_path / "in.jsonl"
    f.write_text('{"text": "good"}\n{"text": ""}\n', encoding="utf-8")
    code, _, err = run(capsys, "import", str(f), "--db", str(tmp_path / "s.db"))
    assert code == 1 and "line 2" in err
    with memento.open(tmp_path / "s.db", tier="minimal") as mem:
        assert mem.count() == 0


def test_bad_meta_is_a_clear_error(capsys, store_path):
    code, _, err = run(capsys, "remember", "x", "--meta", "novalue", "--db", str(store_path))
    assert code == 1 and "KEY=VALUE" in err


def test_stats_tier_doctor(capsys, store_path):
    db = ["--db", str(store_path)]
    run(capsys, "remember", "hello", *db)
    code, out, _ = run(capsys, "stats", *db, "--json")
    assert code == 0 and json.loads(out)["memories"] == 1
    code, out, _ = run(capsys, "tier", "--json")
    info = json.loads(out)
    assert code == 0 and info["tier"] in memento.tiers.TIERS and "minimal" in info["installed"]
    code, out, _ = run(capsys, "doctor", *db)
    assert code == 0 and "[FAIL]" not in out and "integrity" in out and "sqlite" in out


@pytest.mark.vector
def test_backfill_and_reembed_commands(capsys, store_path):
    from .conftest import require_tier
    require_tier("full")
    db = ["--db", str(store_path), "--tier", "full"]
    assert run(capsys, "remember", "I adopted a kitten", "--later", *db)[0] == 0
    code, out, _ = run(capsys, "stats", *db, "--json")
    assert json.loads(out)["pending_embeddings"] == 1
    code, out, err = run(capsys, "backfill", *db, "--json")
    assert code == 0 and json.loads(out) == {"embedded": 1} and "backfill" in err
    code, out, _ = run(capsys, "reembed", *db, "--json")
    assert code == 0 and json.loads(out) == {"embedded": 1}
    code, out, _ = run(capsys, "recall", "new feline pet", "--mode", "vector", *db, "--json")
    assert json.loads(out.splitlines()[0])["text"] == "I adopted a kitten"


@pytest.mark.vector
def test_optimize_partitions_a_store_that_has_grown_then_has_nothing_to_do(capsys, store_path, monkeypatch):
    from .conftest import require_tier
    require_tier("full")
    from memento.vectors import partitions  # numpy: a vector tier's
    monkeypatch.setattr(partitions, "PARTITION_FROM", 40)
    with memento.open(store_path, tier="full") as mem:
        mem.remember_many([{"text": f"note {i}", "vector": [float(i % 7 == j) + 0.1 for j in range(384)]}
                           for i in range(50)], dedup=False)
    db = ["--db", str(store_path), "--tier", "full"]
    code, out, _ = run(capsys, "doctor", *db)
    assert code == 0 and "memento optimize" in out
    code, out, _ = run(capsys, "optimize", *db)
    assert code == 0 and out.strip() == "vectors partitioned into 16 cells"
    code, out, _ = run(capsys, "optimize", *db, "--json")
    assert code == 0 and json.loads(out) == {"cells": None}


def test_doctor_fails_loudly_on_a_broken_index(capsys, store_path):
    db = ["--db", str(store_path)]
    run(capsys, "remember", "alpha bravo", *db)
    conn = __import__("apsw").Connection(str(store_path))
    # remove a row from the FTS index behind the triggers' back: the index no longer matches
    conn.execute("INSERT INTO memories_fts (memories_fts, rowid, text, tags) "
                 "SELECT 'delete', id, text, tags FROM memories")
    conn.close()
    code, out, _ = run(capsys, "doctor", *db)
    assert code == 1 and "[FAIL] FTS rows = memories" in out


def test_doctor_flags_loose_permissions(capsys, store_path):
    db = ["--db", str(store_path)]
    run(capsys, "remember", "private", *db)
    store_path.chmod(0o644)
    code, out, _ = run(capsys, "doctor", *db)
    assert code == 1 and "[FAIL] owner-only file permissions" in out and "chmod 600" in out
