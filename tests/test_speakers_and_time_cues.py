"""Who said it (speaker) and whether it says when (time_cue): stored, changed, exported and imported,
shown by every door, and a cue kept true when the text is edited in the sqlite3 shell."""
from __future__ import annotations

import dataclasses
import json
import subprocess

import pytest

import memento
from memento.cli import main
from memento.mcp import server as mcp
from memento.time_cues import asks_when, date_ranges, dates_named, mentions_time

from .conftest import require_tier, sqlite3_shell


def cues(path) -> dict:
    with memento.open(path, tier="minimal") as mem:
        return dict(mem._conn.execute("SELECT id, time_cue FROM memories").fetchall())


def test_speaker_is_stored_changed_and_refused_when_empty(store_path):
    with memento.open(store_path, tier="minimal") as mem:
        m = mem.remember("I adopted a kitten", speaker=" Caroline ")
        assert m.speaker == "Caroline" and mem.get(m.id).speaker == "Caroline"
        assert mem.update(m.id, speaker="Melanie").speaker == "Melanie"
        assert mem.update(m.id, text="I adopted two kittens").speaker == "Melanie"   # None keeps it
        assert mem.recall("kittens")[0].speaker == "Melanie"
        many = mem.remember_many([{"text": "no speaker"}, {"text": "with one", "speaker": "user"}])
        assert [x.speaker for x in many] == [None, "user"]
        for bad in ("", "   ", 7, "x" * 257):
            with pytest.raises(memento.InvalidInputError, match="speaker"):
                mem.remember("refused", speaker=bad)
        assert mem.count() == 3


def test_speaker_survives_export_and_import(store_path, tmp_path, capsys):
    with memento.open(store_path, tier="minimal") as mem:
        mem.remember("Let's go hiking on Saturday", speaker="Melanie", thread="chat")
    assert main(["export", "--db", str(store_path), "--tier", "minimal"]) == 0
    line = capsys.readouterr().out
    assert json.loads(line)["speaker"] == "Melanie"
    (tmp_path / "e.jsonl").write_text(line)
    copy = tmp_path / "copy.db"
    assert main(["import", str(tmp_path / "e.jsonl"), "--db", str(copy), "--tier", "minimal"]) == 0
    with memento.open(copy, tier="minimal") as mem:
        assert [m.speaker for m in mem.iter()] == ["Melanie"]


def test_cli_and_mcp_take_and_show_the_speaker(store_path, capsys):
    assert main(["remember", "I paint sunsets", "--speaker", "Melanie", "--db", str(store_path),
                 "--tier", "minimal", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["speaker"] == "Melanie"
    server = mcp.Server(str(store_path), "minimal")
    try:
        call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": "remember", "arguments": {"text": "I run marathons", "speaker": "Caroline"}}}
        reply = server.handle_line(json.dumps(call).encode())
        assert reply["result"]["structuredContent"]["speaker"] == "Caroline"
        call["params"] = {"name": "recall", "arguments": {"query": "marathons"}}
        hits = server.handle_line(json.dumps(call).encode())["result"]["structuredContent"]["results"]
        assert hits[0]["speaker"] == "Caroline"
    finally:
        server.close()


def test_time_cues_are_computed_on_write_and_recomputed_after_a_shell_edit(store_path):
    with memento.open(store_path, tier="minimal") as mem:
        dated = mem.remember("We went camping last summer")
        plain = mem.remember("I love pottery")
    assert cues(store_path) == {dated.id: 1, plain.id: 0}
    subprocess.run([sqlite3_shell(), str(store_path), f"UPDATE memories SET text = 'pottery on Friday' "
                    f"WHERE id = {plain.id};"], check=True)
    assert cues(store_path)[plain.id] is None          # the trigger cleared the stale cue
    with memento.open(store_path, tier="minimal") as mem:
        mem.remember("any later write fills it in")
        mem.update(dated.id, text="We went camping")      # update() recomputes its own
    assert cues(store_path) == {dated.id: 0, plain.id: 1, plain.id + 1: 0}


@pytest.mark.parametrize("text, says_when", [
    ("I went there yesterday", True), ("See you on Friday", True), ("back in 2019", True),
    ("on May 5 we met", True), ("three weeks ago", True), ("last summer we hiked", True),
    ("I may go there", False), ("I love pottery", False), ("Hey Mel!", False)])
def test_mentions_time(text, says_when):
    assert mentions_time(text) is says_when


@pytest.mark.parametrize("question, when", [
    ("When did Caroline go to the support group?", True), ("How long has she been painting?", True),
    ("In what year did they move?", True), ("What did Melanie paint?", False), ("Who is her friend?", False)])
def test_asks_when(question, when):
    assert asks_when(question) is when


def test_a_question_naming_a_speaker_lifts_what_that_speaker_said(store_path):
    with memento.open(store_path, tier="minimal") as mem:
        mine = mem.remember_many([
            {"text": "I started pottery classes last month", "speaker": "Caroline", "thread": "chat"},
            {"text": "I started pottery classes too, it is relaxing", "speaker": "Melanie", "thread": "chat"}])
        assert mem.recall("What did Melanie say about pottery classes?")[0].id == mine[1].id
        assert mem.recall("What did Caroline say about pottery classes?")[0].id == mine[0].id
        mem.ranking = dataclasses.replace(mem.ranking, keyword_w_speaker=0.0, keyword_w_time=0.0)
        off = [h.id for h in mem.recall("What did Melanie say about pottery classes?")]
        assert off[0] == mine[0].id   # without the boost bm25 alone prefers Caroline's (shorter)


@pytest.mark.parametrize("listed", [True, False])
def test_the_speaker_boost_matches_folded_names_whether_the_speakers_are_listed_or_folded_per_row(
        store_path, monkeypatch, listed):
    """A question names a speaker as recall folds names (case, accents, punctuation): the statement
    gets the stored speakers so named (word_counts.speakers_named), or, when there are too many to
    list (None), folds each memory's speaker itself; both rank alike. A speaker the sqlite3 shell
    adds after a recall is named by the next one (the list is read again after any write)."""
    import apsw

    from memento import word_counts
    if not listed:
        monkeypatch.setattr(word_counts, "speakers_named", lambda conn, names: None)
    with memento.open(store_path, tier="minimal") as mem:
        mine = mem.remember_many([
            {"text": "I started pottery classes last month", "speaker": "Caroline", "thread": "chat"},
            {"text": "I started pottery classes too, it is relaxing", "speaker": "Émile Zola-Brun",
             "thread": "chat"},
            {"text": "Pottery classes are on Tuesdays, it is relaxing", "speaker": "Caroline", "thread": "b"}])
        assert mem.recall("What did émile zola brun say about pottery classes?")[0].id == mine[1].id
        assert mem.recall("What did CAROLINE say about pottery classes?")[0].id == mine[0].id
        shell = apsw.Connection(str(store_path))
        shell.execute("UPDATE memories SET speaker = 'MELANIE' WHERE id = ?", (mine[2].id,))
        shell.close()
        assert mem.recall("What did melanie say about pottery classes?")[0].id == mine[2].id


def test_speakers_are_listed_up_to_a_cap_and_as_stored(store_path, monkeypatch):
    from memento import word_counts
    monkeypatch.setattr(word_counts, "SPEAKERS_LISTED", 2)
    with memento.open(store_path, tier="minimal") as mem:
        mem.remember_many([{"text": f"hello {s}", "speaker": s} for s in ("Émile Zola-Brun", "EMILE ZOLA BRUN", "Bo")])
    with memento.open(store_path, tier="minimal") as mem, mem._conn:
        assert word_counts.speakers_named(mem._conn, ["émile zola brun"]) is None        # 3 speakers > 2
        assert word_counts.listed_speaker_words(mem._conn) is None
        assert word_counts.speaker_words(mem._conn) == {"émile", "emile", "zola", "brun", "bo"}   # reads all
        assert word_counts.speakers_named(mem._conn, ["émile zola brun", "zola"]) == ["Émile Zola-Brun"]
        assert word_counts.speakers_named(mem._conn, ["emile zola brun", "bo"]) == ["Bo", "EMILE ZOLA BRUN"]


@pytest.mark.parametrize("tier", ["minimal", "pocket"])
def test_a_speaker_the_shell_wrote_as_text_that_is_not_utf8_names_no_one_and_breaks_no_other_recall(
        store_path, tier):
    """Every recall reads the store's speakers; one typed in the sqlite3 shell as text that is not UTF-8
    is no name, and recalls that do not return that memory go on."""
    import apsw

    from memento import word_counts
    with memento.open(store_path, tier=tier) as mem:
        odd = mem.remember("the shed roof leaks", speaker="Bob")
        mem.remember("Ann likes green tea", speaker="Ann")
        shell = apsw.Connection(str(store_path))
        shell.execute("UPDATE memories SET speaker = CAST(x'ff41' AS TEXT) WHERE id = ?", (odd.id,))
        shell.close()
        assert [h.text for h in mem.recall("what does Ann drink? green tea")] == ["Ann likes green tea"]
        with mem._conn:
            assert word_counts.speakers_named(mem._conn, ["ann", "bob", "a"]) == ["Ann"]


def test_a_question_asking_when_lifts_a_memory_that_names_a_time(store_path):
    with memento.open(store_path, tier="minimal") as mem:
        plain = mem.remember("We went to the beach with the kids")
        dated = mem.remember("It was last summer, I think, when we all packed up and drove to the beach "
                             "together with the kids and the dog")
        assert mem.recall("When did they go to the beach with the kids?")[0].id == dated.id
        mem.ranking = dataclasses.replace(mem.ranking, keyword_w_time=0.0)
        assert mem.recall("When did they go to the beach with the kids?")[0].id == plain.id


@pytest.mark.parametrize("question, named", [
    ("What did she do on 7 July, 2023?", [(2023, 7)]), ("What did he host in May 2023?", [(2023, 5)]),
    ("Where did they go on December 13, 2022?", [(2022, 12)]), ("Where did she go camping in June?", [(None, 6)]),
    ("What happened in may?", [(None, 5)]), ("How often did he run in 2021?", [(2021, None)]),
    ("May I ask what you did?", []), ("What did she paint?", []), ("Did he march in the parade?", [])])
def test_dates_named(question, named):
    assert dates_named(question) == named


def test_date_ranges_bound_created_at_by_month_or_year():
    assert json.loads(date_ranges([(2023, 12)], 2020, 2024)) == [["2023-12", "2024-01"]]
    assert json.loads(date_ranges([(None, 6)], 2022, 2023)) == [["2022-06", "2022-07"], ["2023-06", "2023-07"]]
    assert json.loads(date_ranges([(2021, None)], 2020, 2024)) == [["2021", "2022"]]
    assert date_ranges([], 2020, 2024) is None


def test_a_question_naming_a_month_finds_what_was_stored_then(store_path):
    """A memory stored in the month the question names is lifted, and is found even when more than
    `candidates` memories match the question's words better (the dated search); off, it is not."""
    with memento.open(store_path, tier="minimal") as mem:
        mem.remember_many([{"text": f"we cooked soup and pasta together, evening {i}", "thread": f"t{i}",
                            "created_at": f"2023-0{1 + i % 4}-1{i % 10}T10:00:00"} for i in range(40)])
        may = mem.remember("cooked a curry", thread="may", created_at="2023-05-20T10:00:00")
        question = "What did they cook together in May 2023?"
        assert mem.recall(question, k=5)[0].id == may.id
        assert mem.recall("What did they cook together in May?", k=5)[0].id == may.id
        assert may.id not in [h.id for h in mem.recall(question, k=10, until="2023-05-01")]   # filters hold
        mem.update(may.id, expires_at="2024-01-01T00:00:00")      # expired: the dated search leaves it out
        assert may.id not in [h.id for h in mem.recall(question, k=10)]
        mem.update(may.id, expires_at="2999-01-01T00:00:00")
        lifted_only = dataclasses.replace(mem.ranking, date_search_holders=0)  # a store too big to walk
        mem.ranking = lifted_only
        assert may.id not in [h.id for h in mem.recall(question, k=10)]
        mem.ranking = dataclasses.replace(lifted_only, keyword_w_date=0.0)
        assert may.id not in [h.id for h in mem.recall(question, k=10)]


def test_a_dated_question_survives_any_time_typed_in_the_shell(store_path):
    """created_at edited in the sqlite3 shell to text that is no time, or to years 1 and 9999: a
    question naming a month still recalls (no crash, no 10,000 ranges)."""
    import apsw

    from memento import recall as recall_module
    with memento.open(store_path, tier="minimal") as mem:
        curry = mem.remember("we cooked curry", created_at="2023-06-02T10:00:00")
        soup = mem.remember("we cooked soup", created_at="2023-05-02T10:00:00")
        shell = apsw.Connection(str(store_path))
        for when in ("zzzz", "0001-01-01T00:00:00", "9999-12-31T00:00:00"):
            shell.execute("UPDATE memories SET created_at = ? WHERE id = ?", (when, soup.id))
            hits = mem.recall("what did we cook in June?")
            assert [h.id for h in hits][0] == curry.id and soup.id in [h.id for h in hits]
        shell.execute("UPDATE memories SET created_at = '0001-01-01T00:00:00' WHERE id = ?", (soup.id,))
        request = memento.ranking.RecallRequest(query="in June", match=None, k=10, mode="keyword",
                                                now="2023-12-01T00:00:00Z")
        dates = json.loads(recall_module.query_dates(mem._conn, request, mem.ranking))
        assert len(dates) == recall_module.MONTH_YEARS and dates[-1] == ["2023-06", "2023-07"]
        shell.close()


def test_a_hybrid_question_naming_a_month_lifts_what_was_stored_then(store_path):
    """Hybrid recall multiplies the fused score of a memory stored in the month the question names by
    1 + w_date (recall_hybrid.sql, scored): of two memories about the same thing, the one stored then
    ranks first; off, the better match does. mode="vector" applies it too."""
    require_tier("full")
    with memento.open(store_path, tier="full") as mem:
        may = mem.remember("I cooked a curry", created_at="2023-05-20T10:00:00")
        april = mem.remember("We cooked a curry together at home", created_at="2023-04-20T10:00:00")
        question = "What did they cook together in May 2023?"
        assert mem.ranking.w_date > 0
        for mode in ("hybrid", "vector"):
            assert mem.recall(question, mode=mode, min_score=0)[0].id == may.id, mode
        assert mem.recall("What did they cook together?", mode="hybrid", min_score=0)[0].id == april.id
        mem.ranking = dataclasses.replace(mem.ranking, w_date=0.0)
        assert mem.recall(question, mode="hybrid", min_score=0)[0].id == april.id


def test_a_hybrid_question_naming_a_month_also_searches_what_was_stored_then(store_path):
    """The hybrid statement's keyword side also takes the best matches stored in the month named
    (dated, as in recall_keyword.sql): found among more than `candidates` better matches on both
    sides; without the dated search (a store too big to walk) it is not."""
    require_tier("full")
    with memento.open(store_path, tier="full") as mem:
        mem.remember_many([{"text": f"we cooked a curry together, evening {i}", "thread": f"t{i}",
                            "created_at": f"2023-0{1 + i % 4}-1{i % 10}T10:00:00"} for i in range(40)])
        may = mem.remember("we cooked a curry together that long evening, it took hours and hours", thread="may",
                           created_at="2023-05-20T10:00:00")
        question = "What did they cook together in May 2023?"
        assert may.id in [h.id for h in mem.recall(question, k=10, min_score=0)]
        assert may.id not in [h.id for h in mem.recall(question, k=10, min_score=0, until="2023-05-01")]
        assert may.id in [h.id for h in mem.recall(question, k=10, min_score=0, thread="may")]
        mem.ranking = dataclasses.replace(mem.ranking, date_search_holders=0)
        assert may.id not in [h.id for h in mem.recall(question, k=10, min_score=0)]
