"""Hidden memories stay hidden next to their neighbours: recall(context=n) never hands back an
expired memory (nor a superseded one unless include_superseded), the keyword index never makes an
expired or superseded text findable through the memory after it, and smoothing never lifts a hit by
a hidden neighbour. Expiry happens by the clock, with no write; the tests let the clock pass."""
from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from .test_threads import contexts, fts_exact


def soon(seconds: float) -> str:
    return (datetime.now(timezone.utc) + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def wait_until(stamp: str) -> None:
    left = (datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
            - datetime.now(timezone.utc)).total_seconds()
    time.sleep(max(0.0, left) + 0.05)


def test_an_expired_text_is_not_found_through_its_neighbour(mem):
    mem.remember("what is the door code?", thread="t", created_at="2024-01-01T10:00")
    expiry = soon(1.0)
    secret = mem.remember("the door code is 4711", thread="t", created_at="2024-01-01T10:01", expires_at=expiry)
    reply = mem.remember("ok, noted", thread="t", created_at="2024-01-01T10:02")
    assert mem.recall("4711")[0].id == secret.id  # (its neighbours follow it: smoothing)
    wait_until(expiry)  # expired by the clock: nothing was written
    assert mem.recall("4711") == []
    assert mem.recall("4711", include_superseded=True) == []
    fts_exact(mem.path)
    assert mem.recall("noted")[0].id == reply.id


def test_a_superseded_text_is_not_found_through_its_neighbour(mem):
    old = mem.remember("the wifi password is hunter2", thread="t", created_at="2024-01-01T10:00")
    thanks = mem.remember("thanks", thread="t", created_at="2024-01-01T10:01")
    mem.remember("the wifi password is now swordfish", supersedes=old.id)
    assert mem.recall("hunter2") == []
    assert mem.recall("hunter2", include_superseded=True)[0].id == old.id
    mem.reinstate(old.id)  # current again: its successor's context is its text again
    assert contexts(mem.path)[thanks.id] == "the wifi password is hunter2"
    fts_exact(mem.path)


def test_context_obeys_the_hiding_rules(mem):
    def remember(text, minute, **kw):
        return mem.remember(text, thread="t", created_at=f"2024-01-01T10:0{minute}", **kw)
    first = remember("good morning", 0)
    expiry = soon(1.0)
    expiring = remember("my pin is 1234", 1, expires_at=expiry)
    stale = remember("I live in Paris", 2)
    mem.remember("I live in Berlin now", supersedes=stale.id)
    hit = remember("the needle we look for", 3)
    after = remember("see you", 4)
    gone = remember("secret after", 5, expires_at="2020-01-01")
    last = remember("bye", 6)

    def context(**kw):
        found = mem.recall("needle", context=3, **kw)
        assert found[0].id == hit.id
        return [(n.id, n.offset) for n in found[0].context]

    assert context() == [(first.id, -2), (expiring.id, -1), (after.id, 1), (last.id, 2)]
    assert context(include_superseded=True) == [(first.id, -3), (expiring.id, -2), (stale.id, -1),
                                                (after.id, 1), (last.id, 2)]
    wait_until(expiry)
    assert context() == [(first.id, -1), (after.id, 1), (last.id, 2)]
    assert gone.id not in [n.id for n in mem.recall("needle", context=5, include_superseded=True)[0].context]


@pytest.mark.parametrize("hidden_kind", ["expired", "superseded"])
@pytest.mark.parametrize("hidden_before", [False, True])
def test_a_hidden_neighbour_lifts_no_hit(mem, hidden_kind, hidden_before):
    """V (in a thread next to a hidden memory H full of the query word) and W (no thread) match the
    query alike: V must not score higher. H after V: smoothing would lend H's score to V; H before
    V: V's context column would hold H's text."""
    for i in range(10):  # other memories, so that "plum" is a rare word
        mem.remember(f"unrelated note number {i}")
    minutes = (2, 1) if hidden_before else (1, 2)
    v = mem.remember("plum jam recipe", thread="t", created_at=f"2024-01-01T10:0{minutes[0]}")
    h = mem.remember("plum plum plum plum", thread="t", created_at=f"2024-01-01T10:0{minutes[1]}",
                     expires_at="2020-01-01" if hidden_kind == "expired" else None)
    w = mem.remember("plum pie recipe")
    if hidden_kind == "superseded":
        mem.remember("no more of those", supersedes=h.id)
    scores = {hit.id: hit.score for hit in mem.recall("plum", mode="keyword")}
    assert h.id not in scores
    assert scores[v.id] == pytest.approx(scores[w.id])
    if hidden_kind == "superseded":  # visible again: it lends (the test would see it)
        scores = {hit.id: hit.score for hit in mem.recall("plum", include_superseded=True)}
        assert scores[v.id] > scores[w.id]


@pytest.mark.parametrize("hidden_kind", ["expired", "superseded"])
def test_a_hidden_neighbour_lends_nothing_in_hybrid_recall(vmem, hidden_kind):
    """The hybrid statement's smoothing: V's score is its own fused score, as with smoothing off."""
    for i in range(10):
        vmem.remember(f"unrelated note number {i}")
    v = vmem.remember("plum jam recipe", thread="t", created_at="2024-01-01T10:01")
    h = vmem.remember("plum plum plum plum", thread="t", created_at="2024-01-01T10:02",
                      expires_at="2020-01-01" if hidden_kind == "expired" else None)
    if hidden_kind == "superseded":
        vmem.remember("no more of those", supersedes=h.id)

    def score(gamma: float, **kw) -> float:
        settings = vmem.ranking
        vmem.ranking = replace(settings, gamma=gamma)
        try:
            return next(hit.score for hit in vmem.recall("plum", mode="hybrid", **kw) if hit.id == v.id)
        finally:
            vmem.ranking = settings

    assert score(vmem.ranking.gamma) == pytest.approx(score(0.0))
    if hidden_kind == "superseded":  # visible again: it lends (the test would see it)
        assert score(vmem.ranking.gamma, include_superseded=True) > score(0.0, include_superseded=True)
