"""A recall runs its compiled statement again; it is not recompiled for every new query.

SQLite recompiles a statement on its next run when its planner peeked at a bound value (a bare
parameter as a LIMIT, or compared with some columns); for the recall statements that recompiling
cost more than the search itself. The authorizer callback runs only while SQL is compiled, so
counting its calls about our tables counts recompilations.
"""
from __future__ import annotations

import apsw
import pytest

import memento
from memento import sqlfiles

TABLES = {"memories", "memory_tags", "memories_fts", "memories_vec_auxiliary", "memories_pocket"}


def compilations(mem, runs) -> int:
    """How often SQL touching our tables was compiled while every run(1) ran, after every run(0)
    ran once (each run calls the same statements with other values the second time)."""
    touched = []

    def authorizer(action, name, column=None, *rest):
        # FTS5's own lookup of the table behind memento's vocabulary view (fts5vocab compiles
        # "SELECT t.memories_fts FROM memories_fts AS t WHERE t.memories_fts MATCH '*id'" at each
        # open, memento/word_counts.py) is not a recall statement; every recall statement also
        # reads memories, so its recompiling is still counted.
        if action == apsw.SQLITE_READ and name in TABLES and not (name == column == "memories_fts"):
            touched.append(name)
        return apsw.SQLITE_OK

    mem._conn.authorizer = authorizer  # setting it expires every statement: warm up once
    try:
        for run in runs:
            run(0)
        touched.clear()
        for run in runs:
            run(1)
        return len(touched)
    finally:
        mem._conn.authorizer = None


def _remember_conversation(mem) -> None:
    mem.remember_many([{"text": f"turn {i}: Rosa drinks {drink} in the morning", "thread": "chat",
                        "tags": ["drinks"] if i % 2 else []}
                       for i, drink in enumerate(["tea", "coffee", "mate", "cocoa", "juice", "water"])])


def test_keyword_recall_reuses_its_statement(store_path):
    with memento.open(store_path, tier="minimal") as mem:
        _remember_conversation(mem)
        runs = [lambda i: mem.recall(("what does Rosa drink?", "morning coffee")[i], k=3 + i),
                lambda i: mem.recall(("tea", "mate")[i], k=7 + i, tags=[("drinks", "other")[i]]),
                lambda i: mem.recall("water juice", thread=("chat", "other")[i], since=f"202{i}-01-01"),
                lambda i: mem.recall("water juice", source=("claude-code", "openclaw")[i]),
                lambda i: mem.recall("Rosa", half_life_days=30 + i, include_superseded=bool(i)),
                lambda i: mem.recall(("tea", "cocoa")[i], context=1 + i),  # thread_before/after
                lambda i: list(mem.iter(thread="chat", page_size=2 + i)),   # list_thread, page by page
                lambda i: mem.newest(limit=2 + i)]
        assert mem.recall("what does Rosa drink?")  # the statements find something: they ran
        assert mem.recall("tea", context=1)[0].context
        assert compilations(mem, runs) == 0


def test_hybrid_recall_reuses_its_statement(vmem):
    _remember_conversation(vmem)
    runs = [lambda i: vmem.recall(("what does Rosa drink?", "a hot drink before work")[i], k=3 + i),
            lambda i: vmem.recall(("tea", "mate")[i], k=7 + i, tags=[("drinks", "other")[i]]),
            lambda i: vmem.recall("water juice", mode="vector", thread=("chat", "other")[i]),
            lambda i: vmem.recall("water juice", source=("claude-code", "openclaw")[i]),
            lambda i: vmem.recall("Rosa", half_life_days=30 + i, include_superseded=bool(i))]
    assert vmem.recall("a hot drink before work", mode="vector")
    assert compilations(vmem, runs) == 0


def test_pocket_recall_reuses_its_statement(store_path):
    with memento.open(store_path, tier="pocket") as mem:
        _remember_conversation(mem)
        runs = [lambda i: mem.recall(("what does Rosa drink?", "morning coffee")[i], k=3 + i),
                lambda i: mem.recall(("tea", "mate")[i], k=7 + i, tags=[("drinks", "other")[i]]),
                lambda i: mem.recall("water juice", thread=("chat", "other")[i], since=f"202{i}-01-01"),
                lambda i: mem.recall("water juice", source=("claude-code", "openclaw")[i]),
                lambda i: mem.recall("Rosa", half_life_days=30 + i, include_superseded=bool(i), min_score=0.01 * i)]
        assert mem.recall("what does Rosa drink?")
        assert compilations(mem, runs) == 0


@pytest.mark.parametrize("name", ["recall_keyword", "recall_hybrid", "recall_pocket", "best_matches_between"])
def test_recall_statements_fit_the_statement_cache(name):
    """apsw keeps a compiled statement only when its SQL is at most max_cacheable_bytes (16 KiB); a
    longer one is compiled at every run. The hybrid statement with its comments reached 16,421 bytes:
    comment lines are left out of what SQLite is given (sqlfiles), with room to grow."""
    limit = apsw.Connection(":memory:").cache_stats()["max_cacheable_bytes"]
    text = sqlfiles.query(name)
    assert len(text.encode()) <= limit * 3 // 4, (name, len(text.encode()), limit)
    assert "\n--" not in text and not text.startswith("--")     # no comment line reaches SQLite


def test_comment_lines_are_left_out_and_the_rest_kept():
    blocks = sqlfiles.blocks_of({"a.sql": "-- name: one\n-- why this is so\nSELECT 1 AS a,  -- kept: after code\n"
                                          "    -- an indented comment line\n  '--not a comment' AS b;"})
    assert blocks == {"one": "SELECT 1 AS a,  -- kept: after code\n'--not a comment' AS b;"}
