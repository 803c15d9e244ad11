"""memento_bm25 (memento/bm25.py): a memory's bm25 computed from its own columns must be FTS5's
bm25() exactly (the same double on x86_64; within 2 ulps where SQLite's C fuses multiply-adds:
tests/conftest.py, same_score), on real stores through the real tokenizer; and the hybrid
statement ranks the same whether its pool is scored by a walk of the matches or by memento_bm25."""
from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import memento
from memento import bm25, connection, fts_query, word_counts
from tests.conftest import same_scores

# Stemmed forms ("running", "ran"), a diacritic, a repeated word, and words the tokenizer splits
# where the query's word split does not ("e-mail" as two tokens in a text, "don't").
VOCABULARY = ["tea", "teas", "kiwi", "note", "running", "run", "ran", "Émile", "emile", "e-mail",
              "mail", "don't", "x", "x", "café", "2023"]
WEIGHTS = st.sampled_from([(1.0, 0.5, 0.5), (1.0, 0.0, 0.0), (0.3, 0.7, 0.1), (2.5, 1.0, 0.25)])


def fts5_bm25(conn, match, weights):
    return dict(conn.execute("SELECT rowid, bm25(memories_fts, ?, ?, ?) FROM memories_fts WHERE memories_fts MATCH ?",
                             (*weights, match)).fetchall())


def ours(conn, terms, weights):
    return dict(conn.execute(
        "SELECT id, memento_bm25(?, CAST(text AS BLOB), CAST(tags AS BLOB), CAST(context AS BLOB), ?, ?, ?) "
        "FROM memories_fts_source", (terms, *weights)).fetchall())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.lists(st.sampled_from(VOCABULARY), min_size=1, max_size=14),
                          st.lists(st.sampled_from(["tea", "kiwi", "run"]), max_size=2),
                          st.sampled_from([None, "a", "b"])), min_size=1, max_size=40),
       st.lists(st.sampled_from(VOCABULARY), min_size=1, max_size=6), WEIGHTS)
def test_memento_bm25_is_fts5s_bm25_exactly(tmp_path_factory, memories, query_words, weights):
    # Texts, tags and thread neighbours (the context column), repeats and stems: every memory FTS5
    # matches scores the same double, every other one NULL.
    query = " ".join(query_words)
    with memento.open(tmp_path_factory.mktemp("bm25") / "m.db", tier="minimal") as mem:
        mem.remember_many([{"text": " ".join(words), "tags": tags, "thread": thread}
                           for words, tags, thread in memories], dedup=False)
        conn = mem._conn
        with connection.read_transaction(conn):
            terms = bm25.query_terms(conn, query)
            assert terms is not None
            expected = fts5_bm25(conn, fts_query.build(query), weights)
            got = ours(conn, terms, weights)
        assert same_scores({id_: score for id_, score in got.items() if score is not None}, expected)
        assert all(score is None for id_, score in got.items() if id_ not in expected)


def test_hidden_and_shell_typed_columns_score_as_the_index_holds_them(mem):
    # A superseded memory is not its successor's context (the view), a BLOB typed in the shell is
    # tokenized as the bytes FTS5 indexed, and a forgotten memory leaves the counts: still exact.
    a = mem.remember("kiwi tea note", thread="t")
    b = mem.remember("kiwi again", thread="t")
    mem.remember("tea only", thread="t")
    mem.remember("the newer kiwi tea note", supersedes=a.id)
    conn = mem._conn
    conn.execute("UPDATE memories SET text = CAST('kiwi kiwi blob' AS BLOB) WHERE id = ?", (b.id,))
    mem.forget(mem.remember("kiwi to forget").id)  # (rekeys the BLOB's text as text: test_store_content)
    with connection.read_transaction(conn):
        for query in ("kiwi", "tea note", "kiwi blob tea"):
            weights = (1.0, 0.5, 0.5)
            expected = fts5_bm25(conn, fts_query.build(query), weights)
            got = ours(conn, bm25.query_terms(conn, query), weights)
            assert expected and {i: s for i, s in got.items() if s is not None} == expected


def test_no_terms_where_nothing_can_be_scored(mem):
    conn = mem._conn
    with connection.read_transaction(conn):
        assert bm25.query_terms(conn, "kiwi") is None  # an empty index: no N, no average length
    mem.remember("kiwi")
    with connection.read_transaction(conn):
        assert bm25.query_terms(conn, "?! ...") is None  # no keyword
        assert bm25.query_terms(conn, "kiwi") is not None
    # the function itself: NULL for a question it cannot read, never an error inside a statement
    assert conn.execute("SELECT memento_bm25(NULL, x'6b697769', NULL, NULL, 1, 1, 1)").get is None


def test_without_apsws_tokenizer_the_statement_walks_instead(mem, monkeypatch):
    # An apsw without fts5_tokenizer: no terms, so the hybrid statement keeps its exact walk.
    mem.remember("kiwi tea")
    monkeypatch.setattr(word_counts._Tokens.of(mem._conn), "tokenize", None)
    with connection.read_transaction(mem._conn):
        assert bm25.query_terms(mem._conn, "kiwi") is None


def test_a_phrase_of_several_tokens_scores_as_fts5_scores_it(mem):
    # A keyword FTS5 splits in several tokens is a phrase: its hits are where the tokens stand in a
    # row, overlaps counted ("a a" twice in "a a a b"), and its idf counts the rows holding it.
    import json
    mem.remember_many(["a a a b x", "a b a x", "b b", "a a", "x y z w"], dedup=False)
    conn = mem._conn
    with connection.read_transaction(conn):
        expected = fts5_bm25(conn, '"a a"', (1.0, 0.5, 0.5))
        rows, tokens = word_counts.index_totals(conn)
        terms = json.dumps({"phrases": [["a", "a"]], "idf": [bm25.idf(rows, len(expected))],
                            "avgdl": float(tokens) / float(rows)})
        got = ours(conn, terms, (1.0, 0.5, 0.5))
    assert set(expected) == {1, 4} and {i: s for i, s in got.items() if s is not None} == expected


def test_phrase_occurrences():
    tokens = ["e", "mail", "x", "e", "mail", "e"]
    assert bm25._occurrences(tokens, ("e", "mail")) == 2
    assert bm25._occurrences(tokens, ("e",)) == 3
    assert bm25._occurrences(tokens, ("mail", "e")) == 1
    assert bm25._occurrences(tokens, ()) == 0
    assert bm25._occurrences(["a", "a", "a"], ("a", "a")) == 2   # overlapping, as FTS5's positions
    assert bm25._occurrences(["a"], ("a", "a")) == 0
    assert bm25.idf(10, 10) == 1e-6 and bm25.idf(10, 1) > 1.0


@pytest.mark.vector
def test_the_hybrid_pool_scores_the_same_walked_or_computed(vmem):
    # X is the nearest vector and holds only the common "coffee": it is outside the keyword list,
    # so the hybrid statement scores it on the keyword side itself, by a walk of the question's
    # matches (pool_walk_holders above the holders) or by memento_bm25 (below): the same scores,
    # led by the rare word or not, and the whole question counts ("coffee" lifts X).
    dim = vmem.dim

    def unit(i):
        return [1.0 if j == i else 0.0 for j in range(dim)]
    vmem.remember_many([{"text": f"zebra coffee {i}", "vector": unit(1), "thread": f"t{i % 3}"} for i in range(8)]
                       + [{"text": f"coffee filler {i}", "vector": unit(2)} for i in range(12)]
                       + [{"text": f"plain words {i}", "vector": unit(3)} for i in range(40)], dedup=False)
    x = vmem.remember("coffee morning", vector=unit(0))
    base = replace(vmem.ranking, candidates=3, overfetch_factor=2, rare_word_depth=1)
    scores = {}
    for share in (0.05, 1.0):
        for walk in (1, 10 ** 6):
            vmem.ranking = replace(base, common_word_share=share, pool_walk_holders=walk)
            scores[share, walk] = [(h.id, h.score) for h in vmem.recall("zebra coffee", k=20, mode="hybrid",
                                                                         vector=unit(0), min_score=0)]
    assert x.id in dict(scores[1.0, 10 ** 6])
    assert dict(scores[1.0, 10 ** 6])[x.id] > base.w_vector * 1.01  # cosine 1, and "coffee" counts
    for ranked in scores.values():
        assert [i for i, _ in ranked] == [i for i, _ in scores[1.0, 10 ** 6]]
        assert [s for _, s in ranked] == pytest.approx([s for _, s in scores[1.0, 10 ** 6]], rel=1e-12)


HYBRID_WORDS = ["zebra", "coffee", "tea", "morning", "rosa", "keys", "lisbon", "running", "ran"]


@pytest.mark.vector
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.lists(st.sampled_from(HYBRID_WORDS), min_size=1, max_size=8),
                          st.sampled_from([None, "a", "b"]), st.integers(0, 5)), min_size=3, max_size=40),
       st.lists(st.sampled_from(HYBRID_WORDS), min_size=1, max_size=4), st.integers(0, 5),
       st.sampled_from([0.05, 1.0]))
def test_hybrid_recall_is_the_same_walked_or_computed(tmp_path_factory, vector_tier, memories, query_words,
                                                      query_axis, share):
    # Any store, any question: the pool scored by memento_bm25 (pool_walk_holders 1) ranks and
    # scores exactly as the walk of the matches (pool_walk_holders at its most).
    with memento.open(tmp_path_factory.mktemp("hybrid") / "m.db", tier=vector_tier) as mem:
        dim = mem.dim

        def unit(i):
            return [1.0 if j == i else 0.0 for j in range(dim)]
        mem.remember_many([{"text": " ".join(words), "thread": thread, "vector": unit(axis)}
                           for words, thread, axis in memories], dedup=False)
        got, calls = {}, []
        computed = bm25.Bm25.__call__
        for walk in (1, 2 ** 31 - 1):
            mem.ranking = replace(mem.ranking, pool_walk_holders=walk, common_word_share=share)
            bm25.Bm25.__call__ = lambda self, terms, *rest, walk=walk: (
                (terms is not None and calls.append(walk)) or computed(self, terms, *rest))
            try:
                got[walk] = [(h.id, h.score) for h in mem.recall(" ".join(query_words), k=10, mode="hybrid",
                                                                  vector=unit(query_axis), min_score=0)]
            finally:
                bm25.Bm25.__call__ = computed
    assert got[1] and set(calls) <= {1}  # with the walk memento_bm25 is never asked
    # (the test above holds a pool member that only memento_bm25 can score; here whatever comes)
    assert [i for i, _ in got[1]] == [i for i, _ in got[2 ** 31 - 1]]
    assert [s for _, s in got[1]] == pytest.approx([s for _, s in got[2 ** 31 - 1]], rel=1e-12)
