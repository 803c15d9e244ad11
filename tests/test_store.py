"""The library API in the minimal tier, on real SQLite files."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

import memento
from memento import InvalidInputError, MemoryNotFoundError, sqlfiles


def test_remember_get_roundtrip(mem):
    m = mem.remember("Alice switched from coffee to green tea", tags=["Prefs", " drinks "],
                     metadata={"src": "chat", "n": 3})
    got = mem.get(m.id)
    assert got == m
    assert got.text == "Alice switched from coffee to green tea"
    assert got.tags == ("prefs", "drinks")          # normalized: stripped, lower-cased
    assert got.metadata == {"src": "chat", "n": 3}
    assert got.created_at.endswith("Z") and len(got.created_at) == len("2026-01-01T00:00:00.000Z")
    assert got.pinned is False and got.embedded_with is None


def test_recall_ranks_best_match_first(mem):
    mem.remember("Bob goes hiking in the Alps every summer")
    tea = mem.remember("Alice switched from coffee to green tea")
    mem.remember("The team meeting moved to Thursday")
    mem.remember("Alice's favourite green tea is sencha; she drinks tea daily")
    hits = mem.recall("what tea does Alice drink?", k=10)
    assert [h.text for h in hits][0].startswith("Alice's favourite green tea")
    assert tea.id in [h.id for h in hits]
    assert all(h.score > 0 for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert "Bob" not in " ".join(h.text for h in hits)


def test_recall_porter_stemming_and_diacritics(mem):
    m = mem.remember("She was running to the café")
    assert [h.id for h in mem.recall("runs cafe")] == [m.id]


def test_recall_k_and_stable_ties(mem):
    ids = [mem.remember("identical note about parsnips", dedup=False).id for _ in range(5)]
    hits = mem.recall("parsnips", k=3)
    assert [h.id for h in hits] == sorted(ids, reverse=True)[:3]  # equal bm25: newer first


def test_recall_tag_filter_requires_all_tags(mem):
    a = mem.remember("deploy the api server", tags=["work", "ops"])
    mem.remember("deploy the garden sprinkler", tags=["home"])
    c = mem.remember("deploy notes", tags=["work"])
    assert {h.id for h in mem.recall("deploy", tags=["work"])} == {a.id, c.id}
    assert [h.id for h in mem.recall("deploy", tags=["work", "ops"])] == [a.id]
    assert mem.recall("deploy", tags=["nothing-has-this"]) == []


def test_recall_time_window(mem):
    old = mem.remember("paid the rent", created_at="2023-01-15T10:00:00Z")
    new = mem.remember("paid the rent again", created_at=datetime(2024, 6, 1, tzinfo=timezone.utc))
    assert [h.id for h in mem.recall("rent", since="2024-01-01")] == [new.id]
    assert [h.id for h in mem.recall("rent", until="2024-01-01")] == [old.id]
    with pytest.raises(InvalidInputError):
        mem.recall("rent", since="2024-01-01", until="2023-01-01")


def test_selective_filter_finds_low_ranked_match(mem):
    """Filters apply before LIMIT: the one tagged match is found even behind 50 better matches."""
    mem.remember_many([{"text": f"apple apple apple pie recipe {i}"} for i in range(50)])
    rare = mem.remember("apple", tags=["rare"])
    assert [h.id for h in mem.recall("apple", k=5, tags=["rare"])] == [rare.id]


def test_queries_without_words_return_nothing(mem):
    mem.remember("something")
    assert mem.recall("???") == []
    assert mem.recall("") == []


def test_stopword_only_query_still_searches(mem):
    m = mem.remember("to be or not to be")
    assert m.id in [h.id for h in mem.recall("to be")]


def test_forget(mem):
    m = mem.remember("secret plan")
    mem.forget(m.id)
    assert mem.recall("secret plan") == []
    with pytest.raises(MemoryNotFoundError):
        mem.get(m.id)
    with pytest.raises(MemoryNotFoundError):
        mem.forget(m.id)


def test_ids_are_never_reused(mem):
    a = mem.remember("first")
    mem.forget(a.id)
    assert mem.remember("second").id != a.id


def test_update_changes_search_and_tags(mem):
    m = mem.remember("Bob likes hiking", tags=["hobby"])
    u = mem.update(m.id, text="Bob loves climbing", tags=["sport"], metadata={"v": 2}, pinned=True)
    assert (u.text, u.tags, u.metadata, u.pinned) == ("Bob loves climbing", ("sport",), {"v": 2}, True)
    assert u.created_at == m.created_at and u.updated_at >= m.updated_at
    assert mem.recall("hiking") == []
    assert [h.id for h in mem.recall("climbing", tags=["sport"])] == [m.id]
    assert mem.recall("climbing", tags=["hobby"]) == []
    kept = mem.update(m.id, pinned=False)
    assert (kept.text, kept.tags, kept.metadata) == ("Bob loves climbing", ("sport",), {"v": 2})
    with pytest.raises(MemoryNotFoundError):
        mem.update(10_000, text="x")


def test_remember_many_is_all_or_nothing(mem):
    mem.remember("kept")
    with pytest.raises(InvalidInputError):
        mem.remember_many(["fine", {"text": "also fine"}, {"text": "   "}])
    assert mem.count() == 1
    made = mem.remember_many(["one", {"text": "two", "tags": ["t"], "pinned": True}])
    assert [m.text for m in made] == ["one", "two"] and made[1].pinned
    assert mem.count() == 3


def test_iter_and_count_page_through_everything(mem):
    made = mem.remember_many([{"text": f"note {i}", "tags": ["even" if i % 2 == 0 else "odd"]}
                              for i in range(23)])
    assert [m.id for m in mem.iter(page_size=5)] == [m.id for m in made]
    assert [m.text for m in mem.iter(tags=["even"], page_size=4)] == [f"note {i}" for i in range(0, 23, 2)]
    assert mem.count() == 23


def test_stats(mem):
    mem.remember("a", tags=["x"], created_at="2020-01-01T00:00:00Z")
    mem.remember("b", tags=["x", "y"])
    s = mem.stats()
    assert (s.memories, s.tags, s.tier, s.schema_version) == (2, 2, "minimal", memento.schema.latest_version())
    assert s.oldest == "2020-01-01T00:00:00.000Z" and s.newest > s.oldest
    assert s.file_bytes > 0


@pytest.mark.parametrize("bad", [
    dict(text=""), dict(text="   \n\t"), dict(text=42), dict(text=None), dict(text=b"bytes"),
    dict(text="a\x00b"), dict(text="lone \ud800 surrogate"), dict(text="x" * 65_537),
    dict(text="ok", tags=["has space"]), dict(text="ok", tags=[""]), dict(text="ok", tags=[3]),
    dict(text="ok", tags=["x" * 65]), dict(text="ok", tags={"a": 1}),
    dict(text="ok", metadata={"f": object()}), dict(text="ok", metadata={"n": float("nan")}),
    dict(text="ok", metadata={1: "int key"}), dict(text="ok", metadata=["not", "a", "dict"]),
    dict(text="ok", created_at="yesterday"), dict(text="ok", pinned="yes"),
])
def test_bad_input_is_a_clear_error_and_writes_nothing(mem, bad):
    mem.remember("already here")
    text = bad.pop("text")
    with pytest.raises(InvalidInputError):
        mem.remember(text, **bad)
    assert mem.count() == 1


@pytest.mark.parametrize("kwargs", [dict(k=0), dict(k=-1), dict(k=10_001), dict(k=2.5), dict(k=True),
                                    dict(mode="vector"), dict(mode="nope"), dict(since="not a date"),
                                    dict(tags=["bad tag"])])
def test_bad_recall_arguments(mem, kwargs):
    with pytest.raises(InvalidInputError):
        mem.recall("anything", **kwargs)


def test_keyword_only_store_refuses_vectors(mem):
    """A vector handed to the minimal tier would be silently lost: it is an error, and nothing is written."""
    with pytest.raises(InvalidInputError, match="vector tier"):
        mem.remember("a note", vector=[0.1] * 384)
    with pytest.raises(InvalidInputError, match="vector tier"):
        mem.remember_many(["fine", {"text": "a note", "vector": [0.1] * 384}])
    with pytest.raises(InvalidInputError, match="vector"):
        mem.recall("note", vector=[0.1] * 384)
    assert mem.count() == 0 and mem.model is None and mem.dim is None


def test_errors_share_one_base():
    for cls in (memento.InvalidInputError, memento.MemoryNotFoundError, memento.IncompatibleStoreError,
                memento.TierUnavailableError, memento.ModelMismatchError, memento.StoreError):
        assert issubclass(cls, memento.MementoError)


def test_reopen_keeps_everything(store_path):
    with memento.open(store_path, tier="minimal") as m:
        a = m.remember("persist me", tags=["t"], metadata={"k": "v"})
    with memento.open(store_path) as m:
        assert m.get(a.id) == a
        assert [h.id for h in m.recall("persist")] == [a.id]


def test_default_path_from_env(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMENTO_DB", str(tmp_path / "env" / "x.db"))
    with memento.open(tier="minimal") as m:
        m.remember("where am I")
    assert (tmp_path / "env" / "x.db").exists()


def test_default_path_xdg(tmp_path, monkeypatch):
    monkeypatch.delenv("MEMENTO_DB")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    with memento.open(tier="minimal") as m:
        assert m.path == tmp_path / "xdg" / "memento" / "memento.db"


def test_store_file_is_private(store_path):
    with memento.open(store_path, tier="minimal") as m:
        m.remember("private")
        for suffix in ("", "-wal", "-shm"):
            p = store_path.with_name(store_path.name + suffix)
            if p.exists():
                assert p.stat().st_mode & 0o077 == 0, p


def test_doctor_passes_on_a_healthy_store(mem):
    mem.remember("hello doctor", tags=["x"])
    checks = mem.doctor()
    assert checks and all(c.ok for c in checks), checks
    assert mem.count() == 1  # the write probe was rolled back


def test_newest_reads_by_created_at_from_the_index(mem):
    """MCP's list (newest first) read the whole store to keep `limit` rows; newest() reads the
    created_at index backwards: the plan has no sort, and backdated memories sort by their date."""
    old = mem.remember("imported note from last year", created_at="2025-01-01T00:00:00Z", tags=["import"])
    mid = mem.remember("note from spring", created_at="2026-04-01T00:00:00Z")
    new = mem.remember("note from today", tags=["import"])
    mem.remember("expired scratch note", expires_at="2020-01-01T00:00:00Z")
    assert [m.id for m in mem.newest(10)] == [new.id, mid.id, old.id]
    assert [m.id for m in mem.newest(2)] == [new.id, mid.id]
    assert [m.id for m in mem.newest(10, tags=["import"])] == [new.id, old.id]
    plan = " ".join(r[3] for r in mem._conn.execute(
        "EXPLAIN QUERY PLAN " + sqlfiles.query("list_newest"),
        {"limit": 2, "tags": None, "now": "2026-01-01T00:00:00.000Z"}))
    assert "USING INDEX memories_created_at" in plan and "FOR ORDER BY" not in plan, plan
    with pytest.raises(InvalidInputError):
        mem.newest(0)
