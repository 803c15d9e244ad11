"""Relevance: every hit's estimated probability of being what the query needs, and recall saying
"nothing relevant" (sql/queries/recall_parts.sql part hits, memento/relevance.py). Real stores, real
models in the vector tiers."""
from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import memento
from memento import InvalidInputError, bm25, relevance, time_cues, word_counts
from memento.cli import main
from memento.mcp import tools

# A small life in two people's words: enough memories that word weights behave as in a real store.
FACTS = [(text, speaker) for speaker, texts in {
    "Alice": ["I drink green tea every morning before work", "I adopted a grey cat called Miso last spring",
              "My sister lives in Lisbon and teaches piano", "I started learning Portuguese on Tuesday evenings",
              "The garden needs new tomato plants this year", "I finished reading a novel about lighthouse keepers",
              "My new job at the library starts in March", "I painted the kitchen a pale yellow colour",
              "Miso knocked the vase off the shelf again", "We walked along the river after dinner",
              "I bought a second-hand bicycle with a basket", "My favourite film is still the one about the whale"],
    "Bob": ["I baked a chocolate cake for my daughter's birthday", "I am training for the Berlin marathon in September",
            "My knee hurt after the long run on Sunday", "We are planning a camping trip to the lakes",
            "I fixed the leaking tap in the bathroom", "My daughter wants a puppy for Christmas",
            "The football club meets on Thursday nights", "I switched to a standing desk at the office",
            "My brother moved to Canada for a software job", "I grilled sausages for the neighbours on Saturday",
            "I lost my keys at the swimming pool", "The car needs new tyres before winter"],
    "Chen": ["The quarterly report is due on the last Friday of June", "I moved the standup to half past nine",
             "Our new designer joins the mobile team next week", "The printer on the third floor is broken again",
             "I am presenting the roadmap to the board on Monday", "We need two more testers for the beta",
             "The client in Osaka asked for a Japanese translation", "My flight to Singapore was delayed by four hours",
             "I booked the large meeting room for the workshop", "The budget for the offsite was approved",
             "Our database migration finished without errors", "I interviewed three candidates for the data role",
             "The coffee machine in the kitchen was replaced", "Sales grew by twelve percent this quarter",
             "I forgot my laptop charger at the hotel", "We switched the chat tool to a self-hosted server",
             "The security audit found two minor issues", "My team is hiring a senior backend engineer",
             "The customer survey results come out in May", "I ran the fire drill with the facilities manager",
             "The marketing video needs new subtitles", "The intern built a dashboard for support tickets",
             "We celebrated the product launch with pizza", "Parking at the office costs more from April",
             "I renewed the domain names for another two years"],
}.items() for text in texts] + [("The team deploys the billing service on Tuesdays", None)]
FOREIGN = "Where did Zelda go on holiday with Marco after work?"


def fill(mem) -> None:
    mem.remember_many([{"text": t, "speaker": s} for t, s in FACTS])


@pytest.fixture(params=["minimal", "pocket", "vector"])
def any_mem(request, store_path):
    """The minimal tier, the pocket tier (its shipped table), and (once per run) the full tier with its
    real model."""
    if request.param in ("minimal", "pocket"):
        with memento.open(store_path, tier=request.param) as m:
            yield m
        return
    from tests.conftest import require_tier
    require_tier("full")
    with memento.open(store_path, tier="full") as m:
        yield m


def test_a_question_the_store_answers_comes_back_with_its_answer_most_relevant(any_mem):
    fill(any_mem)
    hits = any_mem.recall("what does Alice drink in the morning?")
    assert hits and hits[0].text.startswith("I drink green tea")
    assert hits[0].relevance >= any_mem.relevance_floor()
    assert all(0.0 <= h.relevance <= 1.0 for h in hits)


def test_a_question_about_nothing_stored_returns_nothing_but_reports_how_close_it_came(any_mem):
    fill(any_mem)
    assert any_mem.recall("what is the wifi password of the office router?") == []
    everything = any_mem.recall("what is the wifi password of the office router?", min_score=0)
    best = any_mem.best_relevance("what is the wifi password of the office router?")
    if everything:  # keyword-only: no stored word matches at all, so nothing to report
        assert best == pytest.approx(everything[0].relevance)
        assert best < any_mem.relevance_floor()
    else:
        assert best is None


def test_a_question_about_a_person_never_heard_of_returns_nothing(any_mem):
    fill(any_mem)
    # Zelda, Marco and holidays are in no memory: most of the question's weight is words the store has
    # never seen, and what it has seen ("work") says little.
    assert any_mem.recall(FOREIGN) == []
    assert any_mem.recall(FOREIGN, min_score=0) != []
    assert any_mem.recall("Where did Bob go camping?") != []


def test_min_score_keeps_exactly_the_hits_that_reach_it_a_prefix_of_the_list(any_mem):
    fill(any_mem)
    every = any_mem.recall("Alice cat tea cake marathon", min_score=0)
    assert len(every) >= 3
    relevances = [h.relevance for h in every]
    assert relevances == sorted(relevances, reverse=True)
    middle = relevances[1]
    kept = any_mem.recall("Alice cat tea cake marathon", min_score=middle)
    assert [h.id for h in kept] == [h.id for h in every if h.relevance >= middle]
    assert any_mem.recall("Alice cat tea cake marathon", min_score=1.0) == [] or relevances[0] == 1.0


def test_relevance_is_comparable_across_queries_unlike_the_score(mem):
    fill(mem)
    strong = mem.recall("what does Alice drink every morning?", min_score=0)[0]
    weak = mem.recall("the morning rituals of Zelda and Marco", min_score=0)[0]
    # both best hits score 1 relative to their own query (keyword statement), yet one query is answered
    # far better than the other, and relevance says so
    assert strong.text == weak.text == "I drink green tea every morning before work"
    assert strong.relevance > weak.relevance


@pytest.mark.parametrize("bad", [-0.01, 1.5, math.nan, math.inf, "0.5", True])
def test_min_score_outside_0_to_1_is_our_error(mem, bad):
    fill(mem)
    with pytest.raises(InvalidInputError, match="min_score"):
        mem.recall("Alice", min_score=bad)


def test_a_store_too_small_for_word_statistics_has_no_floor(mem):
    # two memories: every word is in both (bm25 weighs it ~0) or in neither (unseen)
    mem.remember_many([{"text": "I started pottery classes last month", "speaker": "Caroline"},
                       {"text": "I started pottery classes too", "speaker": "Melanie"}])
    assert mem.relevance_floor() == 0.0
    assert [h.speaker for h in mem.recall("What did Melanie say about pottery classes?")][0] == "Melanie"
    fill(mem)
    assert mem.relevance_floor() == mem.ranking.keyword_relevance.floor > 0


def test_the_pocket_tier_reads_its_own_relevance_weights_and_floor(store_path):
    with memento.open(store_path, tier="pocket") as m:
        fill(m)
        assert m.relevance_floor() == m.ranking.relevance.floor > 0
        assert m.relevance_floor("keyword") == m.ranking.keyword_relevance.floor
        # the gate reads the best static cosine: the same question scores a different relevance in
        # the pocket statement than in the keyword one
        pocket = m.recall("what does Alice drink in the morning?", min_score=0)[0]
        keyword = m.recall("what does Alice drink in the morning?", min_score=0, mode="keyword")[0]
        assert pocket.text == keyword.text == "I drink green tea every morning before work"
        assert pocket.relevance != pytest.approx(keyword.relevance, abs=1e-6)


def test_vector_mode_has_no_default_floor(store_path):
    from tests.conftest import require_tier
    require_tier("full")
    with memento.open(store_path, tier="full") as m:
        fill(m)
        assert m.relevance_floor("vector") == 0.0
        assert len(m.recall("what is the wifi password?", mode="vector")) == 10


# -- the query's word weights ------------------------------------------------------------------------

def test_query_weights_split_the_idf_between_seen_and_unseen_words(mem):
    fill(mem)
    rows = len(FACTS)
    miso_holders = sum("Miso" in t for t, _ in FACTS)
    total, unseen, counted = relevance.query_weights(mem._conn, "Zelda Miso")
    assert counted == rows
    assert unseen == pytest.approx(bm25.idf(rows, 0))
    assert total == pytest.approx(bm25.idf(rows, 0) + bm25.idf(rows, miso_holders))
    assert relevance.query_weights(mem._conn, "?!") == (0.0, 0.0, rows)


def test_a_date_word_no_memory_holds_weighs_nothing_and_one_held_weighs_as_any_word(mem):
    """A memory's date is kept in created_at: "October 2019" missing from every text is no sign the
    query is about something else. A month some memory does name ("March") counts as any word."""
    fill(mem)
    rows = len(FACTS)
    assert relevance.query_weights(mem._conn, "Zelda in October 2019 on Wednesdays") \
        == relevance.query_weights(mem._conn, "Zelda")
    march = sum("March" in t for t, _ in FACTS)
    total, unseen, _ = relevance.query_weights(mem._conn, "Zelda March")
    assert march and unseen == pytest.approx(bm25.idf(rows, 0))
    assert total == pytest.approx(bm25.idf(rows, 0) + bm25.idf(rows, march))


def test_a_stored_speakers_name_no_text_holds_weighs_nothing_and_follows_writes(mem, store_path):
    """Here every speaker's name is in memories.speaker only, never in a text: "Bob" is no sign that a
    question is about something else. Names fold as recall folds them ("Dr. Priya  Nair" -> "dr",
    "priya", "nair"), and the speakers read follows this connection's writes and another's."""
    fill(mem)
    weights = relevance.query_weights
    assert weights(mem._conn, "Zelda Bob camping") == weights(mem._conn, "Zelda camping")
    assert weights(mem._conn, "BOB camping") == weights(mem._conn, "camping")
    assert weights(mem._conn, "Priya camping")[1] > 0
    mem.remember("We moved the piano to the hall", speaker="Dr. Priya  Nair")
    assert weights(mem._conn, "Priya camping")[1] == 0
    assert weights(mem._conn, "nair camping")[1] == 0
    other = memento.open(store_path, tier="minimal")
    try:
        other._conn.execute("UPDATE memories SET speaker = NULL WHERE speaker LIKE '%Priya%'")  # as a shell would
    finally:
        other.close()
    assert weights(mem._conn, "Priya camping")[1] > 0


def test_a_question_naming_a_speaker_only_the_speaker_column_holds_is_not_turned_away(any_mem):
    # Counted as unseen, "Bob" would make the first question (keyword, pocket) or the second (full)
    # look like one about a stranger: nothing would come back.
    fill(any_mem)
    for question, answer in (("Where did Bob go camping?", "We are planning a camping trip to the lakes"),
                             ("What is Bob training for?", "I am training for the Berlin marathon in September")):
        assert any_mem.best_relevance(question) >= any_mem.relevance_floor(), question
        hits = any_mem.recall(question)
        assert hits and hits[0].text == answer and hits[0].speaker == "Bob"


def test_a_question_holding_a_month_or_year_no_text_holds_is_not_turned_away(any_mem):
    # No text says "October", "August" or "2023" (a memory's date is in created_at): counted as
    # unseen, they would make both questions look like ones about something never stored.
    fill(any_mem)
    for question, answer in (
            ("What did Bob bake in October 2023?", "I baked a chocolate cake for my daughter's birthday"),
            ("What did Alice paint in August 2023?", "I painted the kitchen a pale yellow colour")):
        assert any_mem.best_relevance(question) >= any_mem.relevance_floor(), question
        hits = any_mem.recall(question)
        assert hits and hits[0].text == answer


@pytest.mark.parametrize("word, date", [("march", True), ("may", True), ("sundays", True), ("2024", True),
                                        ("1987", True), ("marching", False), ("12", False), ("2150", False),
                                        ("summer", False)])
def test_names_a_date(word, date):
    assert time_cues.names_a_date(word) is date


def test_the_row_count_read_from_fts5_follows_inserts_deletes_and_shell_edits(mem):
    assert word_counts.row_count(mem._conn) == 0
    fill(mem)
    assert word_counts.row_count(mem._conn) == len(FACTS)
    first = mem.recall("Miso", min_score=0)[0]
    mem.forget(first.id)
    assert word_counts.row_count(mem._conn) == len(FACTS) - 1
    mem._conn.execute("DELETE FROM memories WHERE speaker = 'Bob'")  # as a shell user would
    assert word_counts.row_count(mem._conn) == mem.count()


@settings(max_examples=40, deadline=None)
@given(n=st.integers(min_value=0, max_value=2 ** 63 - 1))
def test_varint_decodes_what_sqlite_encodes(n):
    # SQLite's varint: 7 bits a byte, high bit set on all but the last, a 9th byte of 8 bits.
    if n <= 0x00FFFFFFFFFFFFFF:
        groups = []
        v = n
        while True:
            groups.append(v & 0x7F)
            v >>= 7
            if not v:
                break
        data = bytes([g | 0x80 for g in reversed(groups[1:])] + [groups[0]])
    else:
        head, last = n >> 8, n & 0xFF
        data = bytes([((head >> (7 * (7 - i))) & 0x7F) | 0x80 for i in range(8)] + [last])
    assert word_counts._varints(data + b"\x05\x07") == [n, 5, 7]  # the values that follow it too


# -- doors -------------------------------------------------------------------------------------------

def test_cli_shows_relevance_with_fixed_decimals_and_says_when_nothing_is_relevant(store_path, capsys):
    with memento.open(store_path, tier="minimal") as m:
        fill(m)
    assert main(["--db", str(store_path), "recall", "what does Alice drink?"]) == 0
    out = capsys.readouterr().out
    header, first = out.splitlines()[:2]
    assert "relevance" in header.split()
    cell = first.split()[header.split().index("relevance")]
    assert len(cell.split(".")[1]) == 3 and 0 < float(cell) <= 1
    assert main(["--db", str(store_path), "recall", FOREIGN]) == 0
    out = capsys.readouterr().out
    assert out.startswith("(nothing relevant: the best match's relevance 0.") and "--min-score 0" in out
    assert main(["--db", str(store_path), "recall", FOREIGN, "--min-score", "0", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines and all(0 <= line["relevance"] <= 1 for line in lines)


def test_mcp_recall_returns_only_relevant_hits_and_says_so_plainly_when_none(mem):
    fill(mem)
    tool = tools.BY_NAME["recall"]
    found = tool.run(mem, {"query": "what does Alice drink?"})
    assert found["results"] and all("relevance" in h for h in found["results"])
    assert found["best_relevance"] == found["results"][0]["relevance"] >= found["min_relevance"]
    assert "relevance 0." in tool.render(found)
    empty = tool.run(mem, {"query": FOREIGN})
    assert empty["results"] == [] and empty["best_relevance"] < empty["min_relevance"]
    assert tool.render(empty).startswith("Nothing relevant: the best match's relevance is 0.")
    everything = tool.run(mem, {"query": FOREIGN, "min_score": 0})
    assert everything["results"]
    nothing = tool.run(mem, {"query": "quantum chromodynamics"})
    assert nothing == {"results": [], "best_relevance": None, "min_relevance": mem.relevance_floor()}
    assert tool.render(nothing).startswith("No memory matches.")
