"""Memory over time in the vector tiers, with the real models: superseded and expired
memories never come back in any mode, pruning removes vectors, a duplicate is not embedded again,
near-duplicates by cosine, decay and pins in the hybrid statement, and "features off" = the
statement from before the issue."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest

from memento import fts_query, ranking

from .test_expiry_and_superseding import PAST
from .test_recency_properties import oracle_statement

MODES = ("hybrid", "vector", "keyword")


def test_superseded_fact_never_comes_back_by_default_in_any_mode(vmem):
    berlin = vmem.remember("Alice lives in Berlin, near the Spree")
    lisbon = vmem.remember("Alice moved to Lisbon last spring", supersedes=berlin.id)
    vmem.remember("Bob collects vintage synthesizers")
    for mode in MODES:
        for query in ("where does Alice live", "Alice Berlin Spree", "Berlin"):
            hits = vmem.recall(query, mode=mode, k=10)
            assert berlin.id not in {h.id for h in hits}, (mode, query)
        hits = vmem.recall("Alice Berlin Spree", mode=mode, include_superseded=True)
        assert berlin.id in {h.id for h in hits}, mode
    assert vmem.recall("where does Alice live", mode="vector")[0].id == lisbon.id


def test_expired_memory_is_never_recalled_in_any_mode(vmem):
    gone = vmem.remember("the locker combination is 27-14-3", expires_at=PAST)
    for mode in MODES:
        assert gone.id not in {h.id for h in vmem.recall("locker combination", mode=mode)}, mode
    only = vmem.recall("locker combination", mode="vector", k=5)
    assert only == []  # the only memory with a vector is hidden: nothing, not a hidden row


def test_hidden_memories_do_not_starve_the_vector_side(vmem):
    # 150 expired near-copies fill the hamming KNN list; the live memory must still come back.
    vmem.remember_many([{"text": f"the deploy key rotates every month ({i})", "expires_at": PAST}
                        for i in range(150)])
    live = vmem.remember("deploy keys are rotated monthly by the ops team")
    hits = vmem.recall("how often is the deploy key rotated", mode="vector", k=3)
    assert [h.id for h in hits] == [live.id]


def test_prune_expired_removes_vectors_too(vmem):
    gone = vmem.remember("a scratch note about lunch", expires_at=PAST)
    keep = vmem.remember("a lasting note about dinner")
    assert vmem.prune_expired() == [gone.id]
    rows = vmem._conn.execute("select rowid from memories_vec order by rowid").fetchall()
    assert rows == [(keep.id,)]
    assert all(c.ok for c in vmem.doctor()), [c for c in vmem.doctor() if not c.ok]


def test_a_duplicate_is_not_embedded_again_and_keeps_its_vector(vmem):
    first = vmem.remember("Carol's birthday is on March 3rd")
    again = vmem.remember_many(["Carol's  birthday is on March 3rd", "an unrelated new fact"])
    assert again[0].duplicate_of == first.id and again[0].embedded_with == vmem.model
    assert vmem._conn.execute("select count(*) from memories_vec").fetchone()[0] == 2
    assert vmem.stats().pending_embeddings == 0


def test_near_duplicates_are_listed_by_cosine(vmem):
    a = vmem.remember("Alice lives in Lisbon.")
    b = vmem.remember("Alice lives in Lisbon!")
    vmem.remember("The quarterly report is due on Friday")
    groups = vmem.duplicates(near=0.9)
    assert [(g.keep, g.others) for g in groups] == [(a.id, (b.id,))]
    assert 0.9 <= groups[0].similarity < 1.0
    assert vmem.duplicates() == []  # not exact duplicates
    assert vmem.count() == 3  # listing only


def test_decay_and_pins_in_the_hybrid_statement(vmem):
    now = datetime.now(timezone.utc)
    new = vmem.remember("we adopted a grey cat named Pixel", created_at=now, dedup=False)
    old = vmem.remember("we adopted a grey cat named Pixel", created_at=now - timedelta(days=20), dedup=False)
    plain = {h.id: h.score for h in vmem.recall("grey cat", mode="hybrid")}
    assert plain[new.id] == pytest.approx(plain[old.id])
    decayed = {h.id: h.score for h in vmem.recall("grey cat", mode="hybrid", half_life_days=10, as_of=now)}
    assert decayed[old.id] == pytest.approx(plain[old.id] / 4, rel=1e-6)
    vmem.update(old.id, pinned=True)
    hits = vmem.recall("grey cat", mode="hybrid", half_life_days=10, as_of=now)
    assert hits[0].id == old.id
    assert hits[0].score == pytest.approx(plain[old.id] * (1 + vmem.ranking.pin_boost), rel=1e-6)


def test_features_off_gives_the_hybrid_ranking_from_before(vmem):
    vmem.ranking = dataclasses.replace(vmem.ranking, w_thread=0.0)   # the L6 models' thread channel is on
    texts = ["Caroline went to the LGBTQ support group", "Melanie painted a sunrise over the lake",
             "Caroline is researching adoption agencies", "Melanie signed up for a pottery class",
             "the support group met on Tuesday", "a lake house in the mountains"]
    vmem.remember_many([{"text": t, "thread": "chat" if i % 2 else None} for i, t in enumerate(texts)])
    for query in ("support group", "what did Melanie paint", "adoption", "pottery lake"):
        now = [(h.id, h.score) for h in vmem.recall(query, mode="hybrid")]
        request = ranking.RecallRequest(query=query, match=fts_query.build(query), k=10, mode="hybrid")
        params = {**request.params(vmem.ranking), "qvec": vmem._vectors.embedder.embed_one(query),
                  "model": vmem.model}
        before = vmem._conn.execute(oracle_statement("recall_hybrid_before"), params).fetchall()
        # Same memories in the same order; scores equal up to rounding (the statement from before
        # read a neighbour's score as (a + b) - a, today's reads b itself).
        assert [i for i, _ in now] == [r[0] for r in before], query
        assert [s for _, s in now] == pytest.approx([r[5] for r in before], rel=1e-12, abs=1e-15), query


def test_cli_dedup_near_lists_without_merging(vector_tier, store_path, capsys):
    from memento.cli import main
    db = ["--db", str(store_path), "--tier", vector_tier]
    for text in ("Alice lives in Lisbon.", "Alice lives in Lisbon!", "The quarterly report is due on Friday"):
        assert main(["remember", text, *db]) == 0
    capsys.readouterr()
    assert main(["dedup", "--near", "0.9", *db]) == 0
    out = capsys.readouterr().out
    assert "#1 <- #2" in out and "found 1 group" in out and "#3" not in out
    assert main(["dedup", "--near", "0.9", "--apply", *db]) == 1  # listing only
    assert main(["dedup", "--near", "1.5", *db]) == 1
