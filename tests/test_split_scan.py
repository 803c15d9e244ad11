"""The split keyword scan (memento/split_scan.py) finds exactly what one search finds.

Stores here are small, so the split is switched on by lowering its threshold (SPLIT_FROM): the
rows searched, the statements and both connections are the real ones.
"""
from __future__ import annotations

import os
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import memento
from memento import split_scan
from tests.conftest import require_tier
from tests.test_opening import ReadOnly

WORDS = "rosa drinks tea coffee morning berlin lisbon moved keys lent borrowed birthday flight".split()


def _turns(n: int, seed: int = 3) -> list:
    import random
    rng = random.Random(seed)
    return [{"text": " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 6))),
             "thread": f"chat-{i // 7}", "tags": [rng.choice(["home", "work"])],
             "created_at": f"2026-01-{1 + i // 40:02d}T10:{i % 60:02d}:00Z"} for i in range(n)]


def _recall_all(mem, queries, **kwargs) -> list:
    return [[(h.id, h.score) for h in mem.recall(q, **kwargs)] for q in queries]


def _split(monkeypatch, on: bool) -> None:
    monkeypatch.setattr(split_scan, "SPLIT_FROM", 0 if on else 10 ** 12)


def _split_threads(name: str = "memento-keyword-scan") -> int:
    return sum(t.name.startswith(name) for t in threading.enumerate())


QUERIES = ["what does rosa drink in the morning?", "who borrowed the keys", "tea", "berlin lisbon moved",
           "flight birthday", "nothing matches this"]
FILTERS = [{}, {"k": 1}, {"k": 50}, {"tags": ["work"]}, {"thread": "chat-3"}, {"since": "2026-01-02T00:00:00Z"}]


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: ",".join(f) or "none")
def test_split_scan_ranks_exactly_like_one_search(store_path, monkeypatch, filters):
    with memento.open(store_path, tier="minimal") as mem:
        kept = mem.remember_many(_turns(400), dedup=False)
        mem.update(kept[5].id, expires_at="2000-01-01T00:00:00Z")      # hidden memories too
        mem.remember("rosa drinks mate now", supersedes=kept[9].id)
        _split(monkeypatch, False)
        one = _recall_all(mem, QUERIES, mode="keyword", **filters)
        _split(monkeypatch, True)
        split = _recall_all(mem, QUERIES, mode="keyword", **filters)
        assert _split_threads() == 1  # the split really ran
    assert split == one
    assert all(one[:-1]) and not one[-1]      # not vacuous: the queries find memories
    assert _split_threads() == 0              # close() stopped the worker


@pytest.mark.vector
def test_split_scan_ranks_exactly_like_one_search_in_hybrid(store_path, monkeypatch):
    require_tier("full")
    with memento.open(store_path, tier="full") as mem:
        mem.remember_many(_turns(150), dedup=False)
        _split(monkeypatch, False)
        one = _recall_all(mem, QUERIES, k=10) + _recall_all(mem, QUERIES, k=5, tags=["home"])
        _split(monkeypatch, True)
        split = _recall_all(mem, QUERIES, k=10) + _recall_all(mem, QUERIES, k=5, tags=["home"])
        assert _split_threads("memento-vector-search") == 1  # the vector side ran beside the keyword side
    assert split == one and sum(map(len, one)) > len(QUERIES)
    assert _split_threads("memento-vector-search") == 0  # close() stopped it


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(st.lists(st.sampled_from(WORDS), min_size=1, max_size=5).map(" ".join),
                      min_size=1, max_size=60),
       query=st.lists(st.sampled_from(WORDS), min_size=1, max_size=4).map(" ".join),
       k=st.integers(1, 30))
def test_split_scan_property(tmp_path_factory, monkeypatch, texts, query, k):
    path = tmp_path_factory.mktemp("split") / "memento.db"
    with memento.open(path, tier="minimal") as mem:
        mem.remember_many([{"text": t, "thread": "t" if i % 3 else None} for i, t in enumerate(texts)], dedup=False)
        _split(monkeypatch, False)
        one = _recall_all(mem, [query], k=k)
        _split(monkeypatch, True)
        assert _recall_all(mem, [query], k=k) == one


def test_split_scan_sees_writes_made_after_it_started(store_path, monkeypatch):
    with memento.open(store_path, tier="minimal") as mem:
        mem.remember_many(_turns(100), dedup=False)
        _split(monkeypatch, True)
        before = mem.recall("lisbon", k=200)   # the worker's connection is open from here on
        new = mem.remember("moved to lisbon")
        mem.forget(before[0].id)
        after = _recall_all(mem, ["lisbon"], k=200)
        _split(monkeypatch, False)
        assert after == _recall_all(mem, ["lisbon"], k=200)
    ids = [i for i, _ in after[0]]
    assert new.id in ids and before[0].id not in ids and len(ids) == len(before)


@pytest.mark.spawns_python
def test_split_scan_in_a_process_forked_while_the_worker_runs(store_path, monkeypatch):
    _split(monkeypatch, True)
    with memento.open(store_path, tier="minimal") as mem:
        mem.remember_many(_turns(100), dedup=False)
    expected = None
    with memento.open(store_path, tier="minimal") as mem:
        expected = _recall_all(mem, QUERIES)  # the worker thread and its connection now exist
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: the parent's worker thread did not come along; its own store's must
            try:
                with memento.open(store_path, tier="minimal") as child:
                    ok = _recall_all(child, QUERIES) == expected
                os.write(write, b"1" if ok else b"0")
            finally:
                os._exit(0)
        os.close(write)
        answer = os.read(read, 1)
        os.waitpid(pid, 0)
    assert answer == b"1"


def test_split_scan_on_a_read_only_store(store_path, monkeypatch):
    with memento.open(store_path, tier="minimal") as mem:
        mem.remember_many(_turns(100), dedup=False)
        _split(monkeypatch, False)
        one = _recall_all(mem, QUERIES)
    _split(monkeypatch, True)
    with ReadOnly(store_path, store_path.parent):
        with memento.open(store_path, tier="minimal") as mem:
            assert _recall_all(mem, QUERIES) == one


def test_split_scan_breaks_ties_at_the_cut_like_one_search(store_path, monkeypatch):
    # 100 equal matches, more than one search keeps (2 x candidates): which ones are kept decides
    # the result, and one search keeps the newest (largest ids) among equals.
    with memento.open(store_path, tier="minimal") as mem:
        mem.remember_many(["tea at five"] * 100, dedup=False)
        _split(monkeypatch, False)
        one = _recall_all(mem, ["tea"], k=3)
        _split(monkeypatch, True)
        assert _recall_all(mem, ["tea"], k=3) == one
    assert [i for i, _ in one[0]] == [100, 99, 98]


def test_split_scan_finds_ids_typed_in_the_shell_outside_the_usual_range(store_path, monkeypatch):
    # memento's own ids start at 1, but a row inserted in the sqlite3 shell may have any integer id.
    with memento.open(store_path, tier="minimal") as mem:
        mem.remember_many(_turns(50), dedup=False)
        for odd_id in (-7, 0, 2 ** 62):
            mem._conn.execute("INSERT INTO memories (id, text, tags, metadata, created_at, updated_at) "
                              "VALUES (?, 'quince jam from the shell', '[]', '{}', "
                              "'2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')", (odd_id,))
        _split(monkeypatch, True)
        found = {h.id for h in mem.recall("quince jam", k=10)}
    assert found == {-7, 0, 2 ** 62}


def test_split_scan_that_cannot_open_its_connection_leaves_recall_to_one_search(tmp_path, monkeypatch):
    folder = tmp_path / "store"
    folder.mkdir()
    with memento.open(folder / "memento.db", tier="minimal") as mem:
        mem.remember_many(_turns(100), dedup=False)
        _split(monkeypatch, False)
        one = _recall_all(mem, QUERIES)
        folder.rename(tmp_path / "moved")  # this connection keeps its open file; a new one finds nothing
        _split(monkeypatch, True)
        assert _recall_all(mem, QUERIES) == one
        assert _split_threads() == 0


def test_an_old_handle_never_searches_a_store_renamed_into_its_place(tmp_path, monkeypatch):
    """A restore renames another store over the path: a handle opened before keeps reading its own
    file, its split scan included (the worker's connection is opened later, by path)."""
    _split(monkeypatch, True)
    path, other = tmp_path / "memento.db", tmp_path / "other.db"
    with memento.open(path, tier="minimal") as mem:
        mem.remember_many([f"kiwi orchard note {i}" for i in range(50)])
        with memento.open(other, tier="minimal") as newer:
            newer.remember("a zebra from the other store")
            newer._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()  # all in its main file, as restored
        for companion in (f"{path}-wal", f"{path}-shm"):   # as `restore --force` clears the way
            os.unlink(companion)
        os.replace(other, path)
        assert mem.recall("zebra") == []
        assert len(mem.recall("kiwi orchard", k=60)) == 50


def test_a_split_whose_halves_saw_another_snapshot_still_returns_k_hits(store_path, monkeypatch):
    """The statement is handed best matches from another snapshot (as the worker's half is): memories
    forgotten since drop out, and the list is refilled, so k hits come back whenever k match."""
    with memento.open(store_path, tier="minimal") as mem:
        kept = mem.remember_many([f"kiwi note number {i}" for i in range(300)], dedup=False)
        stale = [[m.id, -1.0] for m in kept[:60]]          # the best matches of an older snapshot...
        for m in kept[:60]:
            mem.forget(m.id)                                # ...all forgotten since
        from memento import fts_query, ranking, times
        request = ranking.RecallRequest(query="kiwi note", match=fts_query.build("kiwi note"), k=50,
                                        mode="keyword", now=times.now_utc(), any_hidden=False, hidden=0,
                                        top=__import__("json").dumps(stale))
        rows = mem._conn.execute(memento.sqlfiles.query("recall_keyword"), request.params(mem.ranking)).fetchall()
        assert len(rows) == 50 and not {r[0] for r in rows} & {m.id for m in kept[:60]}


@pytest.mark.slow
@pytest.mark.spawns_python
def test_split_recall_returns_k_hits_while_another_process_forgets_and_remembers(store_path, monkeypatch):
    import subprocess
    import sys
    _split(monkeypatch, True)
    with memento.open(store_path, tier="minimal") as mem:
        mem.remember_many([f"kiwi {WORDS[i % len(WORDS)]} note {i}" for i in range(3000)], dedup=False)
    churn = subprocess.Popen([sys.executable, "-c", f"""
import random, time, memento
rng = random.Random(7)
with memento.open({str(store_path)!r}, tier="minimal") as mem:
    ids = [m.id for m in mem.iter()]
    end = time.time() + 8
    while time.time() < end:   # forget matching memories and remember new ones, as a busy agent does
        for i in rng.sample(range(len(ids)), 20):
            mem.forget(ids[i])
            ids[i] = mem.remember(f"kiwi note again {{rng.random()}}", dedup=False).id
"""])
    short = []
    try:
        with memento.open(store_path, tier="minimal") as mem:
            for _ in range(150):
                hits = mem.recall("kiwi note", k=200)
                if len(hits) != 200:
                    short.append(len(hits))
    finally:
        churn.wait(timeout=60)
    assert short == []


@pytest.mark.vector
def test_a_vector_search_beside_that_cannot_open_its_connection_leaves_it_to_the_statement(tmp_path, monkeypatch):
    require_tier("full")
    folder = tmp_path / "store"
    folder.mkdir()
    with memento.open(folder / "memento.db", tier="full") as mem:
        mem.remember_many(_turns(120), dedup=False)
        _split(monkeypatch, False)
        one = _recall_all(mem, QUERIES, mode="hybrid")
        folder.rename(tmp_path / "moved")  # this connection keeps its open file; a new one finds nothing
        _split(monkeypatch, True)
        assert _recall_all(mem, QUERIES, mode="hybrid") == one
        assert _split_threads("memento-vector-search") == 0


@pytest.mark.vector
def test_a_vector_search_beside_never_reads_a_store_renamed_into_its_place(tmp_path, monkeypatch):
    # As the keyword worker: its connection is opened later, by path, and checks the file it finds.
    require_tier("full")
    _split(monkeypatch, True)
    path, other = tmp_path / "memento.db", tmp_path / "other.db"
    with memento.open(path, tier="full") as mem:
        kept = mem.remember_many([f"kiwi orchard note {i}" for i in range(30)])
        with memento.open(other, tier="full") as newer:
            newer.remember_many([f"a zebra from the other store {i}" for i in range(30)])
            newer._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()  # all in its main file, as restored
        for companion in (f"{path}-wal", f"{path}-shm"):   # as `restore --force` clears the way
            os.unlink(companion)
        os.replace(other, path)
        hits = mem.recall("zebra from the other store", k=10, mode="hybrid", min_score=0)
        assert _split_threads("memento-vector-search") == 0  # the file it found is another: not opened
        assert hits and {h.id for h in hits} <= {m.id for m in kept}
        assert all(h.text.startswith("kiwi orchard") for h in hits)


def _shared_searches(mem, queries):
    from memento import fts_query
    from memento.ranking import RankingSettings, RecallRequest
    return [(RecallRequest(query=q, match=fts_query.build(q), k=5, mode="keyword").params(RankingSettings()),
             -2 ** 63, 2 ** 63 - 1) for q in queries]


def _helped(monkeypatch, conn, helper_conn, searches):
    """split_scan.Shared().run(searches) on `conn` in this thread while a second thread helps on
    helper_conn once this one is inside its first search (so the helper takes the second):
    (results, who ran what)."""
    shared = split_scan.Shared()
    ran, inside, taken = [], threading.Event(), threading.Event()
    search = split_scan._search

    def recorded(conn, params, low, high):
        mine = threading.current_thread() is threading.main_thread()
        ran.append(("recall" if mine else "helper", params["match"]))
        if mine and not inside.is_set():
            inside.set()
            assert taken.wait(10)   # the helper has taken the other search
        else:
            taken.set()
        return search(conn, params, low, high)
    monkeypatch.setattr(split_scan, "_search", recorded)
    helper = threading.Thread(target=lambda: (inside.wait(10), shared.help(helper_conn)))
    helper.start()
    try:
        return shared.run(conn, searches), ran
    finally:
        helper.join(10)


def test_shared_keyword_searches_run_once_each_on_the_thread_that_took_them(store_path, monkeypatch):
    # A hybrid recall's keyword searches are shared by the recall's thread and the vector worker
    # (split_scan.Shared): each runs once, on the connection of the thread that took it, and the
    # results come back in the order asked, as one thread would find them.
    with memento.open(store_path, tier="minimal") as mem:
        mem.remember_many(_turns(300), dedup=False)
        searches = _shared_searches(mem, ["rosa tea morning", "keys borrowed lent"])
        alone = [split_scan._search(mem._conn, *s) for s in searches]
        helper_conn = split_scan.reader(store_path, memento.opening.connect)()
        try:
            found, ran = _helped(monkeypatch, mem._conn, helper_conn, searches)
        finally:
            helper_conn.close()
    assert found == alone and all(alone)
    assert sorted(ran) == [("helper", searches[1][0]["match"]), ("recall", searches[0][0]["match"])]


def test_a_search_the_helper_took_raises_its_error_in_the_recalls_thread(store_path, monkeypatch):
    import apsw
    with memento.open(store_path, tier="minimal") as mem:
        mem.remember_many(_turns(50), dedup=False)
        good, bad = _shared_searches(mem, ["rosa tea", "keys"])
        bad = ({**bad[0], "match": '"unterminated'}, bad[1], bad[2])  # an FTS5 syntax error
        helper_conn = split_scan.reader(store_path, memento.opening.connect)()
        try:
            with pytest.raises(apsw.SQLError):
                _helped(monkeypatch, mem._conn, helper_conn, [good, bad])
        finally:
            helper_conn.close()
