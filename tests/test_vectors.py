"""Vector tiers with the real models (no fakes): semantic recall, filters, backfill, bookkeeping."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import apsw
import pytest

import memento
from memento import ModelMismatchError, sqlfiles

from .conftest import require_tier

pytestmark = pytest.mark.vector

# Written out, not read from memento.models: the ids recorded in users' stores must not drift.
TIER_MODEL = {"full": "all-MiniLM-L6-v2", "light": "paraphrase-MiniLM-L3-v2", "tiny": "all-MiniLM-L6-v2-int8"}
PETS = "I adopted a kitten from the shelter last week"
OTHERS = ["The quarterly budget review is on Monday", "Bob repaired the garage door hinge",
          "Flight to Lisbon leaves at 7:50 from terminal two", "The printer on floor three is out of toner"]


def test_paraphrase_without_shared_words_needs_vectors(vmem):
    pet = vmem.remember(PETS)
    vmem.remember_many(OTHERS)
    query = "new feline pet"                       # no word in common with the memory
    assert pet.id not in [h.id for h in vmem.recall(query, mode="keyword")]
    assert vmem.recall(query, mode="vector")[0].id == pet.id
    assert vmem.recall(query, mode="hybrid", k=3)[0].id == pet.id
    assert vmem.recall(query)[0].id == pet.id       # hybrid is the default in vector tiers


def test_memories_record_their_model(vmem):
    m = vmem.remember(PETS)
    assert m.embedded_with == vmem.stats().model == vmem.meta().model == TIER_MODEL[vmem.tier]
    assert vmem.get(m.id).embedded_with == TIER_MODEL[vmem.tier]
    assert vmem.meta().dim == 384 and vmem.meta().tier == vmem.tier


def test_selective_filter_scores_filtered_rows_exactly(vmem):
    """60 memories closer to the query than the tagged one: a KNN list post-filtered would lose it."""
    vmem.remember_many([f"Kitten number {i} is playing with a ball of yarn" for i in range(60)])
    tagged = vmem.remember("We might get a cat someday", tags=["family"])
    assert [h.id for h in vmem.recall("kitten playing", k=5, tags=["family"], mode="vector")] == [tagged.id]
    # min_score=0: the filter's exactness, not whether a loose match passes the relevance floor
    hybrid = vmem.recall("kitten playing", k=5, tags=["family"], mode="hybrid", min_score=0)
    assert [h.id for h in hybrid] == [tagged.id]
    old = vmem.remember("A cat slept on the sofa", created_at="2001-01-01")
    assert [h.id for h in vmem.recall("kitten playing", k=5, until="2002-01-01", mode="vector")] == [old.id]


def test_embed_later_is_keyword_searchable_then_backfilled(vmem):
    vmem.remember_many(OTHERS)
    later = vmem.remember(PETS, embed="later")
    assert later.embedded_with is None and vmem.stats().pending_embeddings == 1
    assert vmem.recall("kitten", mode="hybrid")[0].id == later.id   # through the keyword side
    assert later.id not in [h.id for h in vmem.recall("new feline pet", mode="vector")]
    assert vmem.backfill() == 1 and vmem.stats().pending_embeddings == 0
    assert vmem.recall("new feline pet", mode="vector")[0].id == later.id


def test_backfill_limit_embeds_a_small_step_oldest_first(vmem):
    stored = vmem.remember_many([f"Reading {i}: the boiler ran {i} hours" for i in range(7)], embed="later")
    assert vmem.backfill(batch_size=2, limit=3) == 3 and vmem.stats().pending_embeddings == 4
    assert [vmem.get(m.id).embedded_with is not None for m in stored] == [True] * 3 + [False] * 4
    assert vmem.backfill(limit=100) == 4 and vmem.backfill(limit=1) == 0


def test_forget_and_update_keep_vectors_in_step(vmem):
    pet = vmem.remember(PETS)
    vmem.remember_many(OTHERS)
    vmem.update(pet.id, text="The dentist appointment is on Friday morning")
    assert vmem.get(pet.id).embedded_with == vmem.stats().model
    assert vmem.recall("tooth doctor visit", mode="vector")[0].id == pet.id
    vmem.forget(pet.id)
    assert pet.id not in [h.id for h in vmem.recall("tooth doctor visit", mode="vector", k=10)]
    assert all(c.ok for c in vmem.doctor()), [c for c in vmem.doctor() if not c.ok]


def test_keyword_only_visit_to_a_vector_store(store_path, vector_tier):
    """A Pi without the vector extras can read and write a server's store; the vector tier
    catches up on its next visit."""
    with memento.open(store_path, tier=vector_tier) as mem:
        gone = mem.remember("to be forgotten by the Pi: kitten photos")
        mem.remember_many(OTHERS)
    with memento.open(store_path, tier="minimal") as pi:
        assert pi.tier == "minimal" and [h.id for h in pi.recall("kitten")] == [gone.id]
        added = pi.remember(PETS)
        pi.forget(gone.id)
        pi.update(2, text="Bob fixed the fence")
    with memento.open(store_path) as mem:                    # the store's own tier again
        assert mem.tier == vector_tier
        assert all(c.ok for c in mem.doctor()), [c for c in mem.doctor() if not c.ok]
        assert mem.stats().pending_embeddings == 2            # the Pi's new memory and edited text
        assert mem.backfill() == 2
        assert mem.recall("new feline pet", mode="vector")[0].id == added.id
        assert gone.id not in [h.id for h in mem.recall("kitten photos", mode="vector")]


def test_model_mismatch_is_refused_until_reembed(store_path):
    require_tier("full")
    with memento.open(store_path, tier="full") as mem:
        pet = mem.remember(PETS)
        mem.remember_many(OTHERS)
    conn = apsw.Connection(str(store_path))
    conn.execute("UPDATE store_meta SET value = 'some-other-model' WHERE key = 'model'")
    conn.close()
    before = hashlib.sha256(store_path.read_bytes()).hexdigest()
    with pytest.raises(ModelMismatchError, match="memento reembed"):
        memento.open(store_path, tier="full")
    assert hashlib.sha256(store_path.read_bytes()).hexdigest() == before
    with memento.open(store_path, tier="minimal") as mem:   # keyword-only always works
        assert [h.id for h in mem.recall("kitten")] == [pet.id]
    with memento.open(store_path, tier="full", reembed=True) as mem:
        assert mem.stats().pending_embeddings == 5
        assert mem.reembed() == 5 and mem.stats().pending_embeddings == 0
        assert mem.recall("new feline pet", mode="vector")[0].id == pet.id


def test_extension_loading_is_switched_off_after_vec0(vmem, tmp_path):
    """A real, loadable library is refused because loading is off, not because the file is missing."""
    import importlib.util
    folder = Path(list(importlib.util.find_spec("sqlite_vec").submodule_search_locations)[0])
    library = next(folder.glob("vec0.*"))
    with pytest.raises(apsw.Error, match="not authorized"):
        vmem._conn.load_extension(str(library))


def test_vector_modes_need_a_vector_tier(mem):
    with pytest.raises(memento.InvalidInputError, match="vector tier"):
        mem.recall("anything", mode="hybrid")


def test_forget_after_a_keyword_only_edit_removes_the_vector(store_path, vector_tier):
    """Issue 11.3: an edit by a keyword-only visit (embedded_with NULL, old vector still stored) then
    a forget, or a reembed reset then a forget, must not leave the vector behind."""
    with memento.open(store_path, tier=vector_tier) as mem:
        edited = mem.remember(PETS)
        reset = mem.remember(OTHERS[0])
        mem.remember_many(OTHERS[1:])
    with memento.open(store_path, tier="minimal") as pi:
        pi.update(edited.id, text="Bob fixed the fence")
        pi.forget(edited.id)
    with memento.open(store_path, tier=vector_tier) as mem:
        mem._vectors.reset()
        mem.forget(reset.id)
        vec_ids = {r[0] for r in mem._conn.execute("SELECT rowid FROM memories_vec")}
        assert not vec_ids & {edited.id, reset.id}
        assert all(c.ok for c in mem.doctor()), [c for c in mem.doctor() if not c.ok]


def _as_an_older_version_left_it(path, vector_tier) -> dict:
    """A store with the vector drift older versions left behind, made the old way: migration 002's
    trigger (queues a vector delete only when embedded_with is set), a keyword-only edit, a forget.
    Plus what a crash or a shell edit can leave: a vector whose memory is gone, a memory marked
    embedded whose vector is gone, a memory marked with another model."""
    with memento.open(path, tier=vector_tier) as mem:
        ids = [m.id for m in mem.remember_many([PETS, *OTHERS])]
    conn = apsw.Connection(str(path))
    conn.execute("""
        DROP TRIGGER memories_queue_vector_delete;
        CREATE TRIGGER memories_queue_vector_delete AFTER DELETE ON memories
        WHEN old.embedded_with IS NOT NULL BEGIN
          INSERT OR IGNORE INTO vector_deletes (memory_id) VALUES (old.id);
        END;""")
    conn.execute("UPDATE memories SET text = 'Bob fixed the fence' WHERE id = ?", (ids[0],))
    conn.execute("DELETE FROM memories WHERE id = ?", (ids[0],))         # old forget: vector left behind
    conn.execute("DELETE FROM memories WHERE id = ?", (ids[1],))
    conn.execute("DELETE FROM vector_deletes")                            # as if the queue was lost
    conn.execute("UPDATE memories SET embedded_with = 'an-old-model' WHERE id = ?", (ids[3],))
    conn.execute(next(m.sql for m in sqlfiles.migrations() if m.version == 3))  # the upgrade: too late
    conn.close()
    with memento.open(path, tier=vector_tier) as mem:
        mem._conn.execute("DELETE FROM memories_vec WHERE rowid = ?", (ids[2],))
    return {"orphans": {ids[0], ids[1]}, "no_vector": ids[2], "other_model": ids[3], "ok": ids[4]}


def test_repair_removes_vectors_older_versions_orphaned(store_path, vector_tier):
    """Issue 11.3: doctor failed on orphan vectors with no way to fix them; repair fixes every
    kind of vector drift, reports what it did, and backfill then restores full vector recall."""
    made = _as_an_older_version_left_it(store_path, vector_tier)
    with memento.open(store_path, tier=vector_tier) as mem:
        failed = {c.name for c in mem.doctor() if not c.ok}
        assert failed == {"vector rows belong to live memories", "embedded memories have vectors",
                          "vectors come from the store's model"}
        fixes = {f.name: f.count for f in mem.repair()}
        assert fixes == {"orphan vectors": 2, "memories without their vector": 1,
                         "vectors from another model": 1}
        vec_ids = {r[0] for r in mem._conn.execute("SELECT rowid FROM memories_vec")}
        assert not vec_ids & made["orphans"]
        assert all(c.ok for c in mem.doctor()), [c for c in mem.doctor() if not c.ok]
        assert mem.repair() == []
        assert mem.stats().pending_embeddings == 2 and mem.backfill() == 2
        assert mem.recall(OTHERS[1], mode="vector")[0].id == made["no_vector"]
        assert mem.recall(OTHERS[2], mode="vector")[0].id == made["other_model"]


def test_doctor_repair_command_on_a_vector_store(capsys, store_path):
    from memento.cli import main
    require_tier("light")
    _as_an_older_version_left_it(store_path, "light")
    db = ["--db", str(store_path), "--tier", "light"]
    assert main(["doctor", *db]) == 1
    assert "[FAIL] vector rows belong to live memories" in capsys.readouterr().out
    assert main(["doctor", "--repair", *db]) == 0
    out = capsys.readouterr().out
    assert "repaired: orphan vectors: 2" in out and "[FAIL]" not in out, out
    assert main(["doctor", *db, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
    assert main(["doctor", "--db", str(store_path), "--tier", "minimal"]) == 0   # says what it skipped
    assert "paraphrase-MiniLM-L3-v2 vectors not checked (keyword-only visit): add --tier light" \
        in capsys.readouterr().out


def test_hybrid_reads_the_same_float_vectors_vec0_holds(vmem):
    """recall_hybrid.sql reads float vectors from memories_vec_auxiliary (a plain table, ~50x faster
    by rowid than through vec0): it must hold, row for row, what vec0 itself returns, after
    inserts, an edit (re-embedded) and a forget."""
    made = vmem.remember_many([PETS, *OTHERS])
    vmem.update(made[1].id, text="The quarterly budget review moved to Tuesday")
    vmem.forget(made[2].id)
    conn = vmem._conn
    through_vec0 = dict(conn.execute("SELECT rowid, embedding FROM memories_vec").fetchall())
    direct = dict(conn.execute("SELECT rowid, value00 FROM memories_vec_auxiliary").fetchall())
    assert direct == through_vec0 and len(direct) == len(made) - 1
    assert set(direct) == {m.id for m in made} - {made[2].id}


def test_a_store_whose_float_vectors_are_elsewhere_is_a_clear_error(store_path, vector_tier):
    with memento.open(store_path, tier=vector_tier) as mem:
        mem.remember(PETS)
        mem._conn.execute("ALTER TABLE memories_vec_auxiliary RENAME COLUMN value00 TO vector")
    with pytest.raises(memento.StoreError, match="sqlite-vec 0.1.x"):
        memento.open(store_path, tier=vector_tier)
