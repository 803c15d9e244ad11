"""The pocket tier: the shipped static table, static vectors kept exact on every write path and across
tiers, recall re-scored by meaning in its SQL statement, every door, and no heavy import."""
from __future__ import annotations

import json
import math

import apsw
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import memento
from memento import tiers
from memento.cli import main
from memento.errors import InvalidInputError
from memento.pocket import table as pocket_table
from tests.conftest import run_python
from tests.test_architecture import HEAVY


@pytest.fixture
def pmem(store_path):
    with memento.open(store_path, tier="pocket") as m:
        yield m


def rows(path) -> dict:
    conn = apsw.Connection(str(path))
    try:
        return dict(conn.execute("SELECT id, vec FROM memories_pocket"))
    finally:
        conn.close()


# -- the table ---------------------------------------------------------------------------------

def test_the_shipped_table_is_the_recorded_one():
    assert pocket_table.file_hash(pocket_table.PATH) == pocket_table.SHA256
    table = pocket_table.StaticTable()
    try:
        assert table.meta["content_sha256"] == pocket_table.CONTENT_SHA256
        conn = apsw.Connection(f"file:{pocket_table.PATH}?immutable=1",
                               flags=apsw.SQLITE_OPEN_READONLY | apsw.SQLITE_OPEN_URI)
        content = pocket_table.content_hash(
            table.dim, conn.execute("SELECT id, piece, scale, vec FROM tokens ORDER BY id"))
        conn.close()
        assert content == pocket_table.CONTENT_SHA256
        # Its origin and licence travel with it.
        assert "all-MiniLM-L6-v2" in table.meta["model"] and "Apache-2.0" in table.meta["licence"]
        assert "tools/pocket_table.py" in table.meta["recipe"]
        assert table.dim == pocket_table.DIM
    finally:
        table.close()


def test_a_text_of_unknown_tokens_gets_the_zero_vector_which_matches_nothing():
    table = pocket_table.StaticTable()
    try:
        assert table.vector("\U0001F600\U0001F601") == bytes(table.dim)   # [UNK] only
        tea, kitten = table.vector("green tea"), table.vector("a small kitten")
        assert len(tea) == table.dim and any(tea)
        cat = table.vector("the cat")
        near = cosines(cat, [(1, kitten), (2, tea), (3, bytes(table.dim))])
        assert near[1] > near[2] and near[3] is None     # the zero vector has no cosine
        assert set(cosines(bytes(table.dim), [(1, tea)]).values()) == {None}
    finally:
        table.close()


def _signed(vec: bytes) -> list:
    return [b - 256 if b > 127 else b for b in vec]   # each byte as int8, without the code under test


# A vector is drawn as bytes (every byte is an int8), not as a list of integers: hypothesis keeps a
# choice per integer, and lists of up to 60 x 300 of them took a test process to 135 MB (killed at the
# emulated Pi lane's 100 MB cap). The extremes (all -128, all 127) are explicit examples.
@settings(max_examples=100, deadline=None)
@example((b"\x80" * 300, [b"\x80" * 300, b"\x7f" * 300] * 30))
@example((b"\x7f" * 128, [b"\x80" * 128, b"\x7f" * 128, bytes(128)]))
@given(st.integers(1, 300).flatmap(lambda n: st.tuples(
    st.binary(min_size=n, max_size=n), st.lists(st.binary(min_size=n, max_size=n), max_size=60))))
def test_dots_equal_the_plain_dot_products_in_one_call(vectors):
    """dots: the query's dot product with each of many vectors (one transposed big-integer sum),
    exactly; and the aggregate memento_cosines divides each by the two lengths."""
    query, many = vectors
    expected = [sum(x * y for x, y in zip(_signed(v), _signed(query))) for v in many]
    assert pocket_table.dots(query, b"".join(many)) == expected == [pocket_table.plain_dot(v, query) for v in many]
    # A length is sqrt of the squares' sum, as memories_pocket.norm is stored (x ** 0.5 may differ by an ulp).
    norms = [math.sqrt(sum(x * x for x in _signed(v))) for v in many]
    query_norm = math.sqrt(sum(x * x for x in _signed(query)))
    got = cosines(query, list(enumerate(many)))
    assert got == {i: (d / (n * query_norm) if n and query_norm else None)
                   for i, (d, n) in enumerate(zip(expected, norms))}


def cosines(query, members, norms=None):
    """What the aggregate memento_cosines returns for these (id, vector) members, as a dict."""
    aggregate = pocket_table.Cosines()
    for i, (id_, vec) in enumerate(members):
        aggregate.step(query, id_, vec, pocket_table.norm(vec) if norms is None and isinstance(vec, bytes)
                       else (norms or {}).get(i))
    return {int(k): v for k, v in json.loads(aggregate.final()).items()}


def test_the_cosines_aggregate_gives_none_where_a_vector_or_its_length_does_not_fit():
    q = b"\x01\x02"
    got = cosines(q, [(1, b"\x03\x04"), (2, b"\x01"), (3, None), (4, b"\x03\x04"), (5, b"\x03\x04")],
                  norms={0: 5.0, 1: 1.0, 2: 1.0, 3: "5", 4: 0.0})
    assert got == {1: 11 / (5.0 * math.sqrt(5)), 2: None, 3: None, 4: None, 5: None}
    assert cosines(None, [(1, b"\x01")]) == {1: None} and cosines(q, []) == {}


@settings(max_examples=150, deadline=None)
@example((4, [b"\x80" * 4, b"\x7f" * 4], [1e-9, 1e9]))
@example((3, [b"\x05\xfb\x00", b"\xfb\x05\x00"], [2.0, 2.0]))     # the rows cancel: the zero vector
@example((128, [b"\x80" * 128] * 512, [3.5] * 512))                 # MAX_TOKENS rows at the extreme
@given(st.integers(1, 200).flatmap(lambda n: st.integers(1, 40).flatmap(lambda t: st.tuples(
    st.just(n), st.lists(st.binary(min_size=n, max_size=n), min_size=t, max_size=t),
    st.lists(st.floats(1e-6, 1e6), min_size=t, max_size=t)))))
def test_a_texts_vector_is_its_rows_weighted_sum_rounded_to_int8(case):
    """weighted_mean (big-integer sums, no step per dimension) against the exact rational sum of the
    float weights: each component is 127 x sum / peak rounded, to within the weights' 24 bits."""
    from fractions import Fraction
    dim, rows, weights = case
    got = _signed(pocket_table.weighted_mean(dim, weights, rows))
    exact = [sum(Fraction(w) * v for w, v in zip(weights, column)) for column in zip(*map(_signed, rows))]
    peak = max(map(abs, exact))
    if peak == 0:
        assert got == [0] * dim
        return
    assert max(map(abs, got)) == 127
    for g, e in zip(got, exact):
        assert abs(g - 127 * e / peak) <= Fraction(1, 2) + Fraction(1, 10**5)


def test_kept_token_rows_change_no_vector(monkeypatch):
    """With a row cache of 3 (rows read, kept and dropped text after text), every vector is the one a
    fresh table reads."""
    texts = ["green tea in the morning", "the cat and the kitten", "tea, cats and mornings", "green kitten?"]
    fresh = []
    for text in texts:
        table = pocket_table.StaticTable()
        fresh.append(table.vector(text))
        table.close()
    monkeypatch.setattr(pocket_table, "ROW_CACHE", 3)
    table = pocket_table.StaticTable()
    try:
        assert [table.vector(t) for t in texts + texts] == fresh + fresh
        assert len(table._row_cache) <= 3
    finally:
        table.close()


# -- recall ------------------------------------------------------------------------------------

def test_pocket_recall_ranks_by_meaning_where_keywords_tie(pmem):
    tea = pmem.remember("Alice loves green tea")
    hikes = pmem.remember("Alice loves long hikes")
    # Both match only "alice", equally: keyword order is the newer first; meaning puts tea first.
    assert [h.id for h in pmem.recall("Alice beverage", mode="keyword")] == [hikes.id, tea.id]
    assert [h.id for h in pmem.recall("Alice beverage")] == [tea.id, hikes.id]
    assert [h.id for h in pmem.recall("Alice outdoor walking")] == [hikes.id, tea.id]


def test_pocket_recall_finds_a_thread_neighbour_and_keeps_the_filters(pmem):
    q = pmem.remember("Alice: what should I order for the team lunch?", thread="chat",
                      created_at="2024-01-01T10:00:00Z", tags=["work"])
    a = pmem.remember("Bob: get the vegetarian lasagna", thread="chat", created_at="2024-01-01T10:01:00Z")
    pmem.remember("Carol: the lunch menu changes on Monday", created_at="2023-01-01T10:00:00Z")
    hits = pmem.recall("team lunch order")
    assert q.id == hits[0].id and a.id in [h.id for h in hits]     # the answer has no word of the query
    assert [h.id for h in pmem.recall("lunch", tags=["work"])] == [q.id]
    # A neighbour passes the filters or is not ranked.
    assert a.id not in [h.id for h in pmem.recall("team lunch order", until="2024-01-01T10:00:30Z")]
    pmem.forget(a.id)
    assert a.id not in [h.id for h in pmem.recall("team lunch order")]


def test_the_keyword_boosts_lift_the_keyword_part_and_the_boost_factor_the_whole_score(pmem):
    import dataclasses
    dated, plain = pmem.remember_many([{"text": "Rosa went to Lisbon on 4 May 2023"},
                                       {"text": "Rosa went to Lisbon with her sister"}])
    question = "When did Rosa go to Lisbon?"

    def scores(**weights):
        pmem.ranking = dataclasses.replace(pmem.ranking, keyword_w_speaker=0.0, w_speaker=0.0, **weights)
        return {h.id: h.score for h in pmem.recall(question, min_score=0)}
    off = scores(keyword_w_time=0.0, w_time=0.0)
    assert off[dated.id] > 0 and off[plain.id] > 0
    # the whole score: fused x (1 + w_time) for the memory that names a time, the other untouched
    whole = scores(keyword_w_time=0.0, w_time=0.5)
    assert whole[dated.id] == pytest.approx(1.5 * off[dated.id]) and whole[plain.id] == pytest.approx(off[plain.id])
    # the keyword part only: the cosine part is not doubled, so the score is lifted by less than x2
    part = scores(keyword_w_time=1.0, w_time=0.0)
    assert off[dated.id] < part[dated.id] < 2 * off[dated.id] and part[plain.id] == pytest.approx(off[plain.id])


def test_a_pocket_question_naming_a_month_lifts_and_searches_what_was_stored_then(pmem):
    """The pocket statement reads the dates a question names as the hybrid one does (recall_parts.sql,
    dated_matches and date_factor): the score of a memory stored in the month named is x (1 + w_date),
    another's is untouched; and it is found among more than `candidates` better matches, unless the
    dated search is off (a store too big to walk), the filters leave it out, or it has expired."""
    import dataclasses
    may = pmem.remember("I cooked a curry", created_at="2023-05-20T10:00:00")
    april = pmem.remember("We cooked a curry together at home", created_at="2023-04-20T10:00:00")
    question = "What did they cook together in May 2023?"
    assert pmem.ranking.w_date > 0
    on = {h.id: h.score for h in pmem.recall(question, min_score=0)}
    pmem.ranking = dataclasses.replace(pmem.ranking, w_date=0.0)
    off = {h.id: h.score for h in pmem.recall(question, min_score=0)}
    assert on[may.id] == pytest.approx((1 + memento.ranking.POCKET.w_date) * off[may.id])
    assert on[april.id] == pytest.approx(off[april.id]) and off[april.id] > off[may.id]
    pmem.ranking = memento.ranking.POCKET
    pmem.remember_many([{"text": f"we cooked a curry together at home, evening {i}", "thread": f"t{i}",
                         "created_at": f"2023-0{1 + i % 4}-1{i % 10}T10:00:00"} for i in range(40)])
    long_may = pmem.remember("we cooked a curry together that long evening, it took hours and hours",
                             created_at="2023-05-21T10:00:00")
    assert long_may.id in [h.id for h in pmem.recall(question, k=10, min_score=0)]
    assert long_may.id not in [h.id for h in pmem.recall(question, k=10, min_score=0, until="2023-05-01")]
    pmem.ranking = dataclasses.replace(pmem.ranking, date_search_holders=0)
    assert long_may.id not in [h.id for h in pmem.recall(question, k=10, min_score=0)]
    pmem.ranking = memento.ranking.POCKET
    pmem.update(long_may.id, expires_at="2024-01-01T00:00:00")
    assert long_may.id not in [h.id for h in pmem.recall(question, k=10, min_score=0)]


def test_the_pocket_speaker_factor_needs_the_best_keyword_match_said_by_the_person_named(pmem):
    """Its whole-score speaker factor is gated as in the hybrid statement (recall_parts.sql,
    speaker_gate): the named person's memories are x (1 + w_speaker) only when the best keyword match
    is theirs; a question naming the wrong person leaves every score as it was."""
    import dataclasses
    bob = pmem.remember("I went camping by the lake in the mountains", speaker="Bob")
    ann = pmem.remember("The lake was cold when we went camping", speaker="Ann")

    def scores(question, w_speaker):
        pmem.ranking = dataclasses.replace(memento.ranking.POCKET, keyword_w_speaker=0.0, w_speaker=w_speaker)
        return {h.id: h.score for h in pmem.recall(question, min_score=0)}
    named_right = "Where did Bob go camping in the mountains by the lake?"   # best match: Bob's
    on, off = scores(named_right, 0.2), scores(named_right, 0.0)
    assert on[bob.id] == pytest.approx(1.2 * off[bob.id]) and on[ann.id] == pytest.approx(off[ann.id])
    named_wrong = "Where did Ann go camping in the mountains by the lake?"    # best match: Bob's, not Ann's
    assert scores(named_wrong, 0.2) == pytest.approx(scores(named_wrong, 0.0))


def test_the_questions_vector_leaves_out_the_names_of_stored_speakers(pmem, store_path):
    """Who is named is read by the keyword part and the speaker factor; the static vector is of what
    the question asks. A name no memory was said by stays, and a speaker written later counts."""
    pmem.remember("I went camping by the lake", speaker="Bob Marley-Smith")
    index, table = pmem._vectors, pmem._vectors.table
    assert index.query_vector("Where did BOB marley smith go camping?") == table.vector("Where did go camping?")
    assert index.query_vector("Where did Rosa go camping?") == table.vector("Where did Rosa go camping?")
    shell = apsw.Connection(str(store_path))
    shell.execute("UPDATE memories SET speaker = 'Rosa'")
    shell.close()
    assert index.query_vector("Where did Rosa go camping?") == table.vector("Where did go camping?")
    assert index.query_vector("Rosa") == bytes(table.dim)     # nothing left: no cosine, keywords only


def test_pocket_has_no_vector_mode_and_takes_no_caller_vector(pmem):
    pmem.remember("Alice loves green tea")
    assert pmem.dim is None and pmem.model == pocket_table.StaticTable().id
    with pytest.raises(InvalidInputError, match="vector tier"):
        pmem.recall("tea", mode="vector")
    with pytest.raises(InvalidInputError):
        pmem.recall("tea", vector=[0.1] * 384)
    with pytest.raises(InvalidInputError):
        pmem.remember("with a vector", vector=[0.1] * 384)
    with pytest.raises(InvalidInputError, match="vector tier"):
        pmem.duplicates(near=0.9)


# -- static vectors on every write path --------------------------------------------------------

def test_every_write_path_keeps_the_static_vectors_exact(pmem, store_path):
    m = pmem.remember("Alice loves green tea")
    later = pmem.remember("Bob plays chess", embed="later")
    assert set(rows(store_path)) == {m.id} and pmem.stats().pending_embeddings == 1
    assert pmem.backfill() == 1 and set(rows(store_path)) == {m.id, later.id}
    before = rows(store_path)[m.id]
    pmem.update(m.id, text="Alice switched to black coffee")
    assert rows(store_path)[m.id] != before
    assert rows(store_path)[m.id] == pmem._vectors.table.vector("Alice switched to black coffee")
    pmem.forget(later.id)
    assert set(rows(store_path)) == {m.id}
    # A shell edit (no memento): the trigger makes the memory pending; backfill computes it again.
    conn = apsw.Connection(str(store_path))
    conn.execute("UPDATE memories SET text = 'Alice drinks water now' WHERE id = ?", (m.id,))
    conn.close()
    assert pmem.stats().pending_embeddings == 1
    assert pmem.backfill() == 1
    assert rows(store_path)[m.id] == pmem._vectors.table.vector("Alice drinks water now")


def test_stores_open_across_tiers_and_each_tier_fills_what_it_lacks(store_path):
    with memento.open(store_path, tier="minimal") as mem:
        ids = [m.id for m in mem.remember_many(["Alice loves green tea", "Bob plays chess"])]
        assert mem.meta().tier == "minimal"
    with memento.open(store_path, tier="pocket") as mem:
        assert mem.stats().pending_embeddings == 2
        assert [h.id for h in mem.recall("tea")] == [ids[0]]   # keyword part only until backfill
        assert mem.backfill() == 2 and mem.stats().pending_embeddings == 0
        assert mem.meta().tier == "pocket"        # a pocket open upgrades a minimal record
    with memento.open(store_path, tier="minimal") as mem:   # a keyword-only visit
        mem.forget(ids[1])
        new = mem.remember("Carol sings")
        assert [h.id for h in mem.recall("tea")] == [ids[0]]
    assert set(rows(store_path)) == {ids[0]}      # the forget trigger ran without the pocket tier
    with memento.open(store_path) as mem:         # the recorded tier
        assert mem.tier == "pocket" and mem.stats().pending_embeddings == 1
        assert mem.backfill() == 1 and set(rows(store_path)) == {ids[0], new.id}


def test_doctor_checks_and_repair_fixes_the_pocket_side(pmem, store_path):
    pmem.remember("Alice loves green tea")
    assert all(c.ok for c in pmem.doctor())
    assert {"pocket table", "pocket vectors belong to live memories"} <= {c.name for c in pmem.doctor()}
    conn = apsw.Connection(str(store_path))
    conn.execute("INSERT INTO memories_pocket (id, vec, norm) VALUES (999, zeroblob(128), 0)")
    conn.close()
    assert not next(c for c in pmem.doctor() if c.name == "pocket vectors belong to live memories").ok
    assert [f.name for f in pmem.repair()] == ["orphan pocket vectors"]
    assert all(c.ok for c in pmem.doctor())


# -- tiers and doors ---------------------------------------------------------------------------

def test_the_pocket_tier_is_installed_with_the_package_and_detected_on_a_small_board():
    """In every env (the table ships in the wheel): a Pi Zero 2 W gets pocket; keywords only when asked."""
    assert tiers.missing_packages("pocket") == ()
    small = tiers.Hardware(512 * 1024 ** 2, 4, "aarch64", "test")
    choice = tiers.resolve(None, stored=None, hardware=small, env={})
    assert (choice.tier, choice.source, choice.fallback) == ("pocket", "detected", False)
    choice = tiers.resolve(None, stored=None, hardware=small, env={"MEMENTO_TIER": "minimal"})
    assert (choice.tier, choice.source) == ("minimal", "MEMENTO_TIER")


def test_cli_and_mcp_use_the_pocket_tier(store_path, capsys):
    db = str(store_path)
    assert main(["remember", "Alice loves green tea", "--db", db, "--tier", "pocket"]) == 0
    assert main(["remember", "Alice loves long hikes", "--db", db, "--tier", "pocket"]) == 0
    capsys.readouterr()
    assert main(["recall", "Alice beverage", "--db", db, "--json"]) == 0   # the recorded tier: pocket
    hits = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert hits[0]["text"] == "Alice loves green tea"
    from memento.mcp.server import Server
    server = Server(db)
    try:
        listed = server.handle_line(b'{"jsonrpc":"2.0","id":1,"method":"tools/list"}')
        recall = next(t for t in listed["result"]["tools"] if t["name"] == "recall")
        assert recall["inputSchema"]["properties"]["mode"]["enum"] == ["hybrid", "keyword"]
        called = server.handle_line(json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": "recall", "arguments": {"query": "Alice beverage"}}}).encode())
        assert called["result"]["structuredContent"]["results"][0]["text"] == "Alice loves green tea"
        assert server.store.tier == "pocket"
    finally:
        server.close()


@pytest.mark.spawns_python
def test_the_pocket_tier_never_imports_numpy_onnxruntime_or_fastembed(tmp_path):
    db = str(tmp_path / "p.db")
    code = f"""
import json, sys, memento
from memento.cli import main
with memento.open({db!r}, tier="pocket") as mem:
    mem.remember("the kiwi is ripe", tags=["fruit"], thread="t")
    mem.remember("bananas are yellow", thread="t", embed="later")
    assert mem.backfill() == 1
    assert [h.text for h in mem.recall("kiwi fruit", context=1)][0] == "the kiwi is ripe"
    mem.doctor(); mem.repair(); mem.duplicates(); mem.stats(); list(mem.iter())
main(["recall", "kiwi", "--db", {db!r}])
main(["export", "--db", {db!r}])
print(json.dumps(sorted(m for m in sys.modules if m.startswith("memento.vectors") or m.split(".")[0] in {HEAVY!r})))
"""
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == []
