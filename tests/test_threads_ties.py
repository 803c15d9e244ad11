"""Memories of one thread that share a created_at (remember_many without created_at, an OpenClaw
file's chunks, second-resolution logs) cost what distinct times cost: finding "the memory
before/after this one" is an index seek whatever the ties, in the triggers and in every query.

No timing: SQLite's progress handler counts the virtual machine instructions each step runs, and
the count must not grow with the number of tied memories (it grew linearly: ingest was quadratic).
"""
from __future__ import annotations

from typing import Callable

import pytest

import memento
from memento import recall as recalling

SMALL, LARGE = 100, 1600
TIE = "2024-03-01T09:00:00"


def vm_steps(mem, action: Callable[..., object], *args) -> int:
    """VM instructions SQLite ran on the store's connection during action(*args), in units of 10."""
    count = [0]

    def tick() -> bool:
        count[0] += 1
        return False

    mem._conn.set_progress_handler(tick, 10)
    try:
        action(*args)
    finally:
        mem._conn.set_progress_handler(None)
    return count[0]


def tied_store(path, ties: int):
    """A thread of `ties` memories at one created_at; the one in the middle says 'needle'."""
    mem = memento.open(path, tier="minimal")
    mem.remember_many([{"text": "needle in the haystack" if i == ties // 2 else f"hay bale number {i}",
                        "thread": "log", "created_at": TIE} for i in range(ties)], dedup=False)
    return mem


@pytest.fixture
def stores(tmp_path):
    small, large = tied_store(tmp_path / "small.db", SMALL), tied_store(tmp_path / "large.db", LARGE)
    yield small, large
    small.close()
    large.close()


def grows(small_steps: int, large_steps: int) -> bool:
    """16x the ties must not cost 3x the work. Walking the tie costs ~16x; what does grow a little
    is FTS5's own upkeep (an id below the last one written flushes its pending terms to a segment,
    and segments merge as the index grows)."""
    return large_steps > 3 * small_steps + 50


def compare(stores, action: Callable) -> None:
    """action(mem, needle_id) costs no more in the large tie than in the small one."""
    needles = [mem.recall("needle")[0].id for mem in stores]
    steps = [vm_steps(mem, action, mem, needle) for mem, needle in zip(stores, needles)]
    assert not grows(*steps), steps


def test_writing_into_a_tie_does_not_walk_the_tie(stores):
    # appended to the tie (what an import of one file does)
    compare(stores, lambda mem, _: mem.remember_many(
        [{"text": f"one more bale {i}", "thread": "log", "created_at": TIE} for i in range(5)], dedup=False))
    # edited, hidden, moved and forgotten in the middle of it
    compare(stores, lambda mem, needle: mem.update(needle, text="needle, edited"))
    compare(stores, lambda mem, needle: mem.update(needle, expires_at="2999-01-01"))
    compare(stores, lambda mem, needle: mem._conn.execute(
        "UPDATE memories SET created_at = '2024-03-01T08:59:59.000Z' WHERE id = ?", (needle + 1,)))
    compare(stores, lambda mem, needle: mem.forget(needle - 1))
    # inserted in the middle of it: an import keeps ids the store never used, the shell writes any
    compare(stores, lambda mem, needle: mem._conn.execute(
        "INSERT INTO memories (id, text, created_at, updated_at, thread) "
        "SELECT ?, 'a bale slipped in', created_at, created_at, thread FROM memories WHERE id = ?",
        (needle - 1, needle)))
    for mem in stores:
        assert all(c.ok for c in mem.doctor() if c.name != "owner-only file permissions")


def test_recall_context_and_listing_do_not_walk_the_tie(stores):
    compare(stores, lambda mem, _: mem.recall("needle", mode="keyword"))  # smoothing's thread links
    compare(stores, lambda mem, _: recalling.with_context(  # Hit.context
        mem._conn, mem.recall("needle")[0], 3, "2999-01-01", include_superseded=False))
    # pages 2 to 5 of the thread: each page starts inside the tie
    compare(stores, lambda mem, _: [m for _, m in zip(range(50), mem.iter(thread="log", page_size=10))])


def test_ties_keep_thread_order_by_id(tmp_path):
    with tied_store(tmp_path / "t.db", 7) as mem:
        ids = [m.id for m in mem.iter(thread="log")]
        assert ids == sorted(ids)
        assert [m.id for m in mem.iter(thread="log", page_size=2)] == ids
        hit = mem.recall("needle", context=2)[0]
        assert [(n.id, n.offset) for n in hit.context] == [(ids[1], -2), (ids[2], -1), (ids[4], 1), (ids[5], 2)]


def test_checking_the_index_is_linear_in_a_tie(stores):
    """doctor's FTS5 integrity-check (and repair's rebuild) reads every row's context through the
    view memories_fts_source: one seek a row, so 16x the memories cost about 16x, not 16 x 16x."""
    small, large = [vm_steps(mem, mem.doctor) for mem in stores]
    assert large < 2 * (LARGE / SMALL) * small, (small, large)
