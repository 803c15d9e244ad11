"""Per-word document counts (memento/word_counts.py), which relevance and the rare-word search
(memento/rare_words.py) read: real minimal-tier stores, counts checked against a count in Python
over the stored texts."""
from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import memento
from memento import connection, fts_query, word_counts

WORDS = ["tea", "coffee", "water", "juice", "milk"]


def holders(texts, word):
    return sum(1 for t in texts if word in re.findall(r"\w+", t.lower()))


def counts(mem, words, cap=None):
    with connection.read_transaction(mem._conn):
        return word_counts.read(mem._conn, words, cap), word_counts.row_count(mem._conn)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(st.sampled_from(WORDS), min_size=1, max_size=4), min_size=0, max_size=30),
       st.none() | st.integers(0, 12))
def test_counts_are_the_memories_holding_each_word_up_to_the_cap(tmp_path_factory, rows, cap):
    path = tmp_path_factory.mktemp("wc") / "m.db"
    texts = [" ".join(r) for r in rows]
    with memento.open(path, tier="minimal") as mem:
        if texts:
            mem.remember_many(texts, dedup=False)
        got, total = counts(mem, WORDS + ["absent"], cap)
    assert total == len(texts)
    for w in WORDS + ["absent"]:
        exact = holders(texts, w)
        assert got[w] == (exact if cap is None else min(exact, cap))


def match_count(mem, word) -> int:
    """The count bm25 sees: memories whose indexed columns MATCH the quoted word."""
    return mem._conn.execute("SELECT count(*) FROM memories_fts WHERE memories_fts MATCH ?",
                             ('"' + word.replace('"', '""') + '"',)).fetchone()[0]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(st.sampled_from("aeiourstnlcç é'-0123456789"), min_size=1, max_size=40)
                .filter(str.strip), min_size=1, max_size=25))
def test_the_index_vocabulary_counts_what_match_counts_stemmed_and_folded_words_too(tmp_path_factory, texts):
    """Counts come from FTS5's vocabulary by the token FTS5 makes of a word (porter-stemmed, diacritics
    folded): for every word of the texts, and its variants, the count equals MATCH's."""
    path = tmp_path_factory.mktemp("wc") / "m.db"
    with memento.open(path, tier="minimal") as mem:
        mem.remember_many(texts, dedup=False)
        words = {w for t in texts for w in fts_query.words(t)} | {"running", "runs", "café", "cafe", "naïve"}
        words = sorted(words)
        got, _ = counts(mem, words)
        assert got == {w: match_count(mem, w) for w in words}


def test_stemmed_words_share_their_count(mem):
    mem.remember_many(["Caroline runs daily", "she was running", "Carolines run"], dedup=False)
    got, _ = counts(mem, ["run", "running", "runs", "caroline"])
    assert got == {"run": 3, "running": 3, "runs": 3, "caroline": 2}


def test_without_the_tokenizer_counts_come_from_match_up_to_the_cap(mem, monkeypatch):
    """An apsw without fts5_tokenizer: each word's MATCH rows are counted, stopping at the cap."""
    mem.remember_many(["Caroline runs daily", "she was running", "Carolines run"], dedup=False)
    monkeypatch.setattr(word_counts._Tokens.of(mem._conn), "tokenize", None)
    assert counts(mem, ["run", "caroline", "absent"])[0] == {"run": 3, "caroline": 2, "absent": 0}
    assert counts(mem, ["run", "caroline"], cap=2)[0] == {"run": 2, "caroline": 2}


def test_counts_survive_the_temp_tables_being_dropped(mem):
    """connection.temp_on_disk (around a repair, a migration, a partitioning) drops a connection's
    temp tables, the vocabulary view with them: the next count makes it again."""
    mem.remember_many(["tea with milk", "green tea"], dedup=False)
    assert counts(mem, ["tea"])[0] == {"tea": 2}
    mem.repair()  # runs inside connection.temp_on_disk
    assert counts(mem, ["tea", "milk"])[0] == {"tea": 2, "milk": 1}
    assert mem.recall("tea", min_score=0)


def test_counts_kept_between_reads_follow_every_write_this_connection_or_another_makes(mem):
    """Counts are kept while nothing is written: a write here (total_changes), in another process's
    connection (data_version), or by hand in the sqlite3 shell makes them read again."""
    mem.remember_many(["tea with milk", "green tea"], dedup=False)
    assert counts(mem, ["tea"])[0] == {"tea": 2}
    assert counts(mem, ["tea"])[0] == {"tea": 2}     # kept
    mem.remember("tea again")
    assert counts(mem, ["tea"])[0] == {"tea": 3}     # this connection wrote
    with memento.open(mem.path, tier="minimal") as other:
        other.remember("more tea")
        assert counts(mem, ["tea"])[0] == {"tea": 4}     # another connection wrote
        other.forget(other.recall("green tea", k=1, min_score=0)[0].id)
        assert counts(mem, ["tea"])[0] == {"tea": 3}
    mem._conn.execute("UPDATE memories SET text = 'coffee' WHERE text = 'tea again'")
    assert counts(mem, ["tea", "coffee"])[0] == {"tea": 2, "coffee": 1}


def test_counts_follow_forget_and_update_and_count_tags(mem):
    a = mem.remember("green tea at noon")
    b = mem.remember("black tea", tags=["coffee"])
    mem.remember("coffee beans")
    assert counts(mem, ["tea", "coffee"]) == ({"tea": 2, "coffee": 2}, 3)
    mem.forget(a.id)
    mem.update(b.id, text="black coffee")
    assert counts(mem, ["tea", "coffee"]) == ({"tea": 0, "coffee": 2}, 2)


def test_words_are_quoted_never_syntax(mem):
    mem.remember('say "AND" or NEAR(x y) * -z')
    words = ['"', "and", "near", "or", "*", "-", "x y"]
    got, _ = counts(mem, words)
    assert got["and"] == 1 and got["near"] == 1 and got["or"] == 1
    assert got['"'] == 0 and got["*"] == 0


def test_empty_store_counts_nothing(mem):
    assert counts(mem, ["tea"]) == ({"tea": 0}, 0)
