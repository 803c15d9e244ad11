"""Memory over time: properties: recency decay keeps time order, and with every
feature off recall equals the statements from before the issue. Apart from test_expiry_and_superseding.py so that
each pytest process of the emulated Pi lane stays under its 100 MB cap (qemu's code cache grows
with the code a process runs)."""
from __future__ import annotations

import re
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import memento
from memento import fts_query, ranking, times

from .conftest import REPO

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def ago(days: float) -> str:
    return times.format_utc(datetime.now(timezone.utc) - timedelta(days=days))


def oracle_statement(name: str) -> str:
    """A recall statement as it was before this issue (tests/fixtures/recall_oracle.sql)."""
    text = (REPO / "tests" / "fixtures" / "recall_oracle.sql").read_text(encoding="utf-8")
    parts = re.split(r"^--\s*name:\s*(\w+)\s*$", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2]))[name].strip()


@SETTINGS
@given(st.lists(st.floats(0, 3650), min_size=2, max_size=6), st.floats(0.5, 400))
def test_decay_never_lets_an_older_copy_outrank_a_newer_one(ages, half_life):
    with tempfile.TemporaryDirectory() as tmp, memento.open(Path(tmp) / "d.db", tier="minimal") as mem:
        base = datetime.now(timezone.utc)
        made = [mem.remember("the spare key is under the blue pot", created_at=base - timedelta(days=a),
                             dedup=False) for a in ages]
        mem.remember("the blue bike is in the shed")
        scores = {h.id: h.score for h in mem.recall("blue pot key", half_life_days=half_life, k=20)}
        for older in made:
            for newer in made:
                if older.created_at < newer.created_at:
                    assert scores[older.id] <= scores[newer.id]
                    newer_age = (base - datetime.fromisoformat(newer.created_at[:-1] + "+00:00")).days
                    # A day or more apart, and the newer one's factor above the 1e-300 floor.
                    if older.created_at[:10] < newer.created_at[:10] and newer_age / half_life < 900:
                        assert scores[older.id] < scores[newer.id]


@SETTINGS
@given(st.lists(st.sampled_from(["alpha beta", "beta gamma", "gamma delta", "delta alpha", "epsilon",
                                 "alpha", "beta beta gamma", "delta"]), min_size=1, max_size=12),
       st.lists(st.sampled_from([None, "t1", "t2"]), min_size=12, max_size=12),
       st.sampled_from(["alpha", "beta delta", "gamma", "epsilon alpha"]))
def test_features_off_gives_the_ranking_from_before(texts, threads, query):
    with tempfile.TemporaryDirectory() as tmp, memento.open(Path(tmp) / "f.db", tier="minimal") as mem:
        mem.remember_many([{"text": t, "thread": th, "created_at": ago(len(texts) - i)}
                           for i, (t, th) in enumerate(zip(texts, threads))], dedup=False)
        now = [(h.id, h.score) for h in mem.recall(query, k=10)]
        request = ranking.RecallRequest(query=query, match=fts_query.build(query), k=10, mode="keyword")
        before = mem._conn.execute(oracle_statement("recall_keyword_before"),
                                   request.params(mem.ranking)).fetchall()
        assert now == [(r[0], r[5]) for r in before]
