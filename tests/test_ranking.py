"""Ranking: scores are monotonic in similarity for every query (fixed bounds),
both sides are scored exactly for every candidate (fill), and neighbour smoothing follows its
formula (memento/ranking.py). Real vector-tier stores; vectors placed by the caller so the
geometry is known exactly."""
from __future__ import annotations

import math
from dataclasses import replace

import pytest

import memento
from memento import ranking

DIM = 384


def unit(**coords):
    """A 384-d vector with the given coordinates on axes e0, e1, e2 ... (named x0, x1, ...)."""
    v = [0.0] * DIM
    for name, value in coords.items():
        v[int(name[1:])] = value
    return v


def at_similarity(s: float):
    """A unit vector whose cosine with e0 is s (the rest on e1)."""
    return unit(x0=s, x1=math.sqrt(max(0.0, 1 - s * s)))


def test_all_negative_similarities_rank_most_similar_first(vmem):
    sims = [-0.9, -0.5, -0.2, -0.7]
    ids = [vmem.remember(f"memory {i}", vector=at_similarity(s)).id for i, s in enumerate(sims)]
    hits = vmem.recall("anything", mode="vector", vector=unit(x0=1.0))
    by_similarity = [i for _, i in sorted(zip(sims, ids), reverse=True)]
    assert [h.id for h in hits] == by_similarity
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert hits[0].score == pytest.approx(vmem.ranking.w_vector * -0.2, abs=1e-5)


def test_orthogonal_query_gives_zero_scores_not_an_error(vmem):
    for i, s in enumerate([0.3, -0.4, 0.8]):
        vmem.remember(f"memory {i}", vector=at_similarity(s))
    for mode in ("vector", "hybrid"):
        hits = vmem.recall("zzz", mode=mode, vector=unit(x2=1.0))  # orthogonal to e0 and e1
        assert len(hits) == 3 and all(h.score == pytest.approx(0.0, abs=1e-6) for h in hits)


def test_fill_every_keyword_candidate_gets_its_exact_cosine(vmem):
    """Same words (same bm25), different vectors: hybrid order follows similarity; scores equal
    w_keyword * 1 + w_vector * cosine exactly, whichever side found each memory."""
    sims = [0.1, -0.3, 0.6, 0.35]
    ids = [vmem.remember("the blue heron", vector=at_similarity(s), dedup=False).id for s in sims]
    vmem.ranking = replace(vmem.ranking, gamma=0.0)
    hits = vmem.recall("blue heron", mode="hybrid", vector=unit(x0=1.0))
    assert [h.id for h in hits] == [i for _, i in sorted(zip(sims, ids), reverse=True)]
    w = vmem.ranking
    for h in hits:
        s = sims[ids.index(h.id)]
        assert h.score == pytest.approx(w.w_keyword + w.w_vector * s, abs=1e-5)


def test_vector_candidates_get_their_bm25(vmem):
    """A memory found by the vector side that also matches a query word (but is not in the
    keyword list) is scored with its bm25, not 0."""
    vmem.ranking = replace(vmem.ranking, gamma=0.0, candidates=1)
    kw = vmem.remember("heron heron heron", vector=at_similarity(-0.5)).id   # best keyword match
    both = vmem.remember("a heron and many other words here", vector=at_similarity(0.9)).id
    vmem.remember("nothing in common", vector=at_similarity(0.95))
    hits = {h.id: h.score for h in vmem.recall("heron", k=3, mode="hybrid", vector=unit(x0=1.0))}
    assert hits[both] > vmem.ranking.w_vector * 0.9 + 1e-4  # its keyword part counted
    assert kw in hits


def test_smoothing_follows_its_formula_and_stays_monotonic(vmem):
    """final = fused + gamma * max(0, fused(prev), fused(next)); in vector mode fused = w * cos."""
    sims = [0.2, 0.7, -0.4, 0.5, 0.1]
    ids = [vmem.remember(f"turn {i}", thread="t", created_at=f"2024-01-0{i + 1}",
                         vector=at_similarity(s)).id for i, s in enumerate(sims)]
    loner = vmem.remember("alone", vector=at_similarity(0.3)).id
    settings = replace(ranking.DEFAULT, gamma=0.4, w_vector=1.0)
    vmem.ranking = settings
    hits = {h.id: h.score for h in vmem.recall("x", k=10, mode="vector", vector=unit(x0=1.0))}
    fused = dict(zip(ids, sims))
    for pos, i in enumerate(ids):
        around = [fused[ids[j]] for j in (pos - 1, pos + 1) if 0 <= j < len(ids)]
        assert hits[i] == pytest.approx(fused[i] + 0.4 * max([0.0, *around]), abs=1e-5)
    assert hits[loner] == pytest.approx(0.3, abs=1e-5)
    # A memory whose vector is pending (text edited) scores 0 on the vector side, not an error,
    # and still lends nothing negative to its neighbours.
    with memento.open(vmem.path, tier="minimal") as keyword_only:
        keyword_only.update(ids[1], text="turn 1 edited")  # its vector is no longer trusted
    hits = {h.id: h.score for h in vmem.recall("x", k=10, mode="vector", vector=unit(x0=1.0))}
    assert hits[ids[1]] == pytest.approx(0.4 * 0.2, abs=1e-5)   # own part 0, lent by ids[0]
    assert hits[ids[0]] == pytest.approx(0.2, abs=1e-5)
    assert hits[ids[2]] == pytest.approx(-0.4 + 0.4 * 0.5, abs=1e-5)


def test_neighbour_found_by_real_model(vmem):
    """A reply whose own words match nothing is found through the turn before it (real model)."""
    vmem.remember("Did you go to the pottery workshop on Saturday?", thread="chat", created_at="2024-05-01T10:00")
    reply = vmem.remember("Yeah, it was great! I made a bowl.", thread="chat", created_at="2024-05-01T10:01")
    vmem.remember("My sister adopted a puppy last month.", thread="chat", created_at="2024-05-01T10:02")
    for i in range(20):
        vmem.remember(f"Note {i}: the train to the city was late again.", created_at="2024-04-01")
    top = [h.id for h in vmem.recall("pottery workshop", k=3)]
    assert reply.id in top


def test_thread_filter_in_hybrid_and_vector_modes(vmem):
    a = vmem.remember("Paris concert was loud", thread="a", created_at="2024-01-01")
    vmem.remember("Yeah, it was great!", thread="a", created_at="2024-01-02")
    b = vmem.remember("Paris concert tickets sold out", thread="b", created_at="2024-01-01")
    for mode in ("hybrid", "vector"):
        assert {h.thread for h in vmem.recall("Paris concert", mode=mode, thread="b")} == {"b"}
        assert b.id in [h.id for h in vmem.recall("Paris concert", mode=mode, thread="b")]
        assert a.id not in [h.id for h in vmem.recall("Paris concert", mode=mode, thread="b")]


def test_default_weights_follow_the_model(vmem):
    """The sweep chose the vector weight per model (memento/ranking.py)."""
    assert vmem.ranking == ranking.for_model(vmem.model)
    assert vmem.ranking.w_vector == (1.0 if vmem.tier == "light" else 2.0)


def test_thread_channel_adds_its_share_of_the_threads_best_score(vmem):
    """score = fused + w_thread * max(0, the best fused score among the thread's ranked members)
    (vector mode, no smoothing: fused = w_vector * cosine); a memory without a thread gains nothing."""
    sims = {"a": [0.6, -0.3, 0.2], "b": [-0.5, -0.1]}
    ids = {t: [vmem.remember(f"{t} {i}", thread=t, created_at=f"2024-01-0{i + 1}", vector=at_similarity(s)).id
               for i, s in enumerate(ss)] for t, ss in sims.items()}
    loner = vmem.remember("alone", vector=at_similarity(0.4)).id
    vmem.ranking = replace(ranking.DEFAULT, gamma=0.0, w_vector=1.0, w_thread=0.25)
    hits = {h.id: h.score for h in vmem.recall("x", k=10, mode="vector", vector=unit(x0=1.0))}
    for t, ss in sims.items():
        for i, s in zip(ids[t], ss):
            assert hits[i] == pytest.approx(s + 0.25 * max(0.0, *ss), abs=1e-5)
    assert hits[loner] == pytest.approx(0.4, abs=1e-5)


def test_without_threads_recall_is_exactly_as_with_the_channel_off(vmem):
    """Memories without a thread: the channel, whatever its weight, changes no score, no relevance and
    no order, bit for bit, in either mode of the hybrid statement."""
    texts = ["Caroline went to the LGBTQ support group", "Melanie painted a sunrise over the lake",
             "Caroline is researching adoption agencies", "Melanie signed up for a pottery class",
             "the support group met on Tuesday", "a lake house in the mountains", "pottery and painting"]
    vmem.remember_many([{"text": t, "speaker": ("Caroline", "Melanie")[i % 2]} for i, t in enumerate(texts)])
    on = replace(vmem.ranking, w_thread=max(vmem.ranking.w_thread, 0.4))
    for query in ("support group", "what did Melanie paint", "adoption", "pottery lake", "When was it?"):
        for mode in ("hybrid", "vector"):
            vmem.ranking = on
            with_channel = [(h.id, h.score, h.relevance) for h in vmem.recall(query, k=5, mode=mode, min_score=0)]
            vmem.ranking = replace(on, w_thread=0.0)
            off = [(h.id, h.score, h.relevance) for h in vmem.recall(query, k=5, mode=mode, min_score=0)]
            assert with_channel == off, (query, mode)
