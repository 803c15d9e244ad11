"""The keyword search led by a question's rare words (memento/rare_words.py): real minimal-tier
stores, results checked against the whole search (RankingSettings.common_word_share = 1)."""
from __future__ import annotations

import random
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import memento
from memento import connection, fts_query, rare_words, split_scan, word_counts
from memento.ranking import RankingSettings, RecallRequest

VOCABULARY = ["tea", "teas", "kiwi", "note", "pear", "rain", "Émile", "running", "ran", "x"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.lists(st.sampled_from(VOCABULARY), min_size=1, max_size=12),
                          st.lists(st.sampled_from(VOCABULARY), max_size=2),
                          st.sampled_from([None, "a", "b"])), min_size=10, max_size=60),
       st.lists(st.sampled_from(VOCABULARY), min_size=2, max_size=5),
       st.sampled_from([1e-9, 0.05, 0.1, 0.2, 0.5, 1.0]), st.integers(1, 2), st.sampled_from([1, 4, 20_000]))
def test_the_list_is_the_whole_searchs_best_among_memories_holding_a_searched_word(
        tmp_path_factory, memories, query_words, share, depth_factor, holders):
    # Texts, tags and thread neighbours (the context column, weighted apart), stemmed and diacritic
    # words, repeats: the two searches' better score is the whole search's, and the list is its
    # best among the memories holding a searched word.
    query = " ".join(query_words)
    with memento.open(tmp_path_factory.mktemp("rare") / "m.db", tier="minimal") as mem:
        mem.remember_many([{"text": " ".join(words), "tags": tags, "thread": thread}
                           for words, tags, thread in memories], dedup=False)
        params = RecallRequest(query=query, match=fts_query.build(query), k=3, mode="keyword").params(
            replace(RankingSettings(), candidates=3, overfetch_factor=2))
        conn = mem._conn
        with connection.read_transaction(conn):
            chosen = replace(RankingSettings(), common_word_share=share, rare_word_depth=depth_factor,
                             common_word_holders=holders)
            led = rare_words.top(conn, params, query, chosen, mem._split_scan)
            words = fts_query.keywords(query)
            rows = word_counts.row_count(conn)
            held = word_counts.read(conn, words, cap=rows // 2 + 1)
            searched = rare_words.searched_words(words, held, rare_words.common_holders(rows, chosen),
                                                 depth_factor * params["overfetch"])
            whole = conn.execute(
                "SELECT rowid, bm25(memories_fts, :text_weight, :tag_weight, :context_weight) AS s FROM memories_fts"
                " WHERE memories_fts MATCH :match AND rowid IN"
                " (SELECT rowid FROM memories_fts WHERE memories_fts MATCH :searched)"
                " ORDER BY s, rowid DESC LIMIT :overfetch",
                {**params, "searched": fts_query.expression(searched or ["absent"])}).fetchall()
    if share >= 1.0 or len(searched) == sum(1 for w in words if held[w] > 0):
        assert led is None  # nothing left out: the statement searches every word itself
        return
    assert [i for i, _ in led] == [i for i, _ in whole]
    assert [s for _, s in led] == pytest.approx([s for _, s in whole], rel=1e-12)


@given(st.dictionaries(st.sampled_from(VOCABULARY), st.integers(0, 5_000), min_size=1),
       st.integers(0, 3_000), st.integers(1, 2_000))
def test_searched_words_are_the_rare_ones_then_the_rarest_until_deep_enough(held, common_rows, depth):
    words = list(held)
    searched = rare_words.searched_words(words, held, common_rows, depth)
    assert all(held[w] > 0 for w in searched)
    assert [held[w] for w in searched] == sorted(held[w] for w in searched)  # rarest first
    assert {w for w in words if 0 < held[w] <= common_rows} <= set(searched)
    left_out = [w for w in words if held[w] > 0 and w not in searched]
    if left_out:  # only common words are left out, and only once the searched lists are deep enough
        assert min(held[w] for w in left_out) > common_rows
        assert sum(held[w] for w in searched) >= depth
        assert min(held[w] for w in left_out) >= max(held[w] for w in searched)


@pytest.mark.parametrize("rows, share, holders, common", [
    (1_000, 0.05, 20_000, 50), (100_000, 0.05, 20_000, 5_000), (400_000, 0.05, 20_000, 20_000),
    (1_000_000, 0.05, 20_000, 20_000), (10 ** 9, 0.05, 20_000, 20_000), (1_000_000, 0.01, 20_000, 10_000),
    (0, 0.05, 20_000, 0)])
def test_a_word_is_common_above_a_share_of_the_store_and_above_a_bound_whatever_its_size(rows, share, holders, common):
    settings = replace(RankingSettings(), common_word_share=share, common_word_holders=holders)
    assert rare_words.common_holders(rows, settings) == common


@pytest.fixture(params=[False, True], ids=["one connection", "two connections"])
def kiwi_store(store_path, monkeypatch, request):
    """1,000 memories: "kiwi" in 250 long ones (tagged t0-t4), "note" in 350 and "pear" in 360 (common
    above 300), and one short memory holding only the two common words. No threads: the order is
    bm25's alone, not lifted by neighbours. With two connections the two searches run at once
    (split_scan.best_of_two), as in a store of SPLIT_FROM memories."""
    monkeypatch.setattr(split_scan, "SPLIT_FROM", 0 if request.param else 10 ** 12)
    rng = random.Random(7)
    filler = [f"w{i}" for i in range(400)]
    items = [{"text": "kiwi " + " ".join(rng.choice(filler) for _ in range(rng.randint(8, 30))), "tags": [f"t{i % 5}"]}
             for i in range(250)]
    items += [{"text": f"{word} " + " ".join(rng.choice(filler) for _ in range(20))}
              for word, holders in (("note", 349), ("pear", 359)) for _ in range(holders)]
    items += [{"text": " ".join(rng.choice(filler) for _ in range(20))} for _ in range(1000 - len(items) - 1)]
    items.append({"text": "note pear"})
    with memento.open(store_path, tier="minimal") as mem:
        made = mem.remember_many(items, dedup=False)
        yield mem, made[-1].id


def recall_both(mem, query, **kw):
    mem.ranking = replace(mem.ranking, common_word_share=1.0)
    whole = mem.recall(query, k=10, mode="keyword", min_score=0, **kw)
    mem.ranking = replace(mem.ranking, common_word_share=0.3)
    led = mem.recall(query, k=10, mode="keyword", min_score=0, **kw)
    return whole, led


def test_a_question_whose_best_matches_hold_its_rare_word_finds_the_same(kiwi_store):
    mem, _ = kiwi_store
    whole, led = recall_both(mem, "kiwi note")  # note: common; kiwi's 250 holders are searched
    assert [(h.id, h.score) for h in led] == [(h.id, h.score) for h in whole]
    assert all("kiwi" in h.text for h in led)


def test_a_memory_holding_only_common_words_is_not_searched(kiwi_store):
    # The trade rare_words.py makes, visible: the whole search ranks the short "note pear" first;
    # led by "kiwi", the search never reads it (bench/scale_quality.py measures what this costs).
    mem, both_common = kiwi_store
    whole, led = recall_both(mem, "kiwi note pear")
    assert whole[0].id == both_common
    assert both_common not in [h.id for h in led]
    assert len(led) == 10 and all("kiwi" in h.text for h in led)


def test_a_question_of_common_words_only_searches_its_rarest(kiwi_store):
    # note (350 holders) is searched, pear (360) only scored. pear weighs less than note, so the
    # whole search ranks note's holders first too: the same list, led by the memory holding both.
    mem, both_common = kiwi_store
    whole, led = recall_both(mem, "note pear")
    assert [(h.id, h.score) for h in led] == [(h.id, h.score) for h in whole]
    assert led[0].id == both_common and all("note" in h.text.split() for h in led)


def test_filters_hold_in_the_search_led_by_rare_words(kiwi_store):
    mem, _ = kiwi_store
    whole, led = recall_both(mem, "kiwi note", tags=["t3"])
    assert led and all(h.tags == ("t3",) for h in led)
    assert [h.id for h in led] == [h.id for h in whole]
    whole, led = recall_both(mem, "kiwi note", tags=["absent"])
    assert whole == led == []


def test_forgotten_memories_leave_the_list_and_are_refilled(kiwi_store):
    mem, _ = kiwi_store
    first = recall_both(mem, "kiwi note")[1]
    for hit in first[:5]:
        mem.forget(hit.id)
    whole, led = recall_both(mem, "kiwi note")
    assert [h.id for h in led] == [h.id for h in whole]
    assert not {h.id for h in first[:5]} & {h.id for h in led}
