"""Memory over time: on real stores in the minimal tier: expiry, superseded facts,
recency decay and pins. Duplicates: test_duplicates.py; properties: test_recency_properties.py;
the vector tiers' side: test_history_vectors.py (one file per pytest process on the emulated Pi)."""
from __future__ import annotations

import json
import subprocess
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from memento import superseding, times
from memento.cli import main
from memento.errors import InvalidInputError, MemoryNotFoundError

from .conftest import sqlite3_shell

PAST = "2020-01-01T00:00:00Z"
FUTURE = "2999-01-01T00:00:00Z"


def ago(days: float) -> str:
    return times.format_utc(datetime.now(timezone.utc) - timedelta(days=days))


def cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# -- expiry ----------------------------------------------------------------------------------------

def test_expired_memory_is_never_recalled_even_as_the_only_match(mem):
    gone = mem.remember("the zanzibar door code is 4711", expires_at=PAST)
    assert mem.recall("zanzibar door code") == []
    assert mem.recall("zanzibar", mode="keyword", k=50) == []
    assert [m.id for m in mem.iter()] == []
    assert mem.get(gone.id).expires_at == "2020-01-01T00:00:00.000Z"  # get still shows it until pruned


def test_expiry_is_applied_before_the_limit(mem):
    # 80 expired memories outrank the live ones on bm25 (more than the 50 candidates a side takes).
    mem.remember_many([{"text": f"parsnip parsnip parsnip {i}", "expires_at": PAST} for i in range(80)])
    live = [mem.remember(f"a parsnip soup recipe number {i} with other words around").id for i in range(5)]
    hits = mem.recall("parsnip", k=5)
    assert sorted(h.id for h in hits) == sorted(live)


def test_future_expiry_and_datetime_values(mem):
    soon = datetime.now(timezone.utc) + timedelta(days=1)
    m = mem.remember("water the ficus tomorrow", expires_at=soon)
    assert m.expires_at == times.format_utc(soon)
    assert [h.id for h in mem.recall("ficus")] == [m.id]
    assert [x.id for x in mem.iter()] == [m.id]


def test_bad_expiry_is_refused_and_nothing_is_written(mem):
    with pytest.raises(InvalidInputError, match="expires_at"):
        mem.remember("x marks the spot", expires_at="next tuesday")
    with pytest.raises(InvalidInputError, match="expires_at"):
        mem.remember_many(["fine", {"text": "bad", "expires_at": 12}])
    assert mem.count() == 0


def test_prune_expired_deletes_for_good(mem):
    old = mem.remember("scratch note one", expires_at=PAST)
    keep = mem.remember("scratch note two", expires_at=FUTURE)
    never = mem.remember("a note without expiry")
    assert mem.prune_expired() == [old.id]
    assert mem.count() == 2
    with pytest.raises(MemoryNotFoundError):
        mem.get(old.id)
    assert {m.id for m in mem.iter()} == {keep.id, never.id}
    assert mem.prune_expired() == []
    assert all(c.ok for c in mem.doctor()), [c for c in mem.doctor() if not c.ok]


def test_cli_expires_at_and_prune(capsys, store_path):
    db = ["--db", str(store_path), "--tier", "minimal"]
    assert cli(capsys, "remember", "temporary wifi password hunter2", "--expires-at", PAST, *db)[0] == 0
    assert cli(capsys, "remember", "permanent wifi name", *db)[0] == 0
    code, out, _ = cli(capsys, "recall", "wifi", "--json", *db)
    assert code == 0 and [json.loads(line)["text"] for line in out.splitlines()] == ["permanent wifi name"]
    code, out, _ = cli(capsys, "prune", "--expired", "--json", *db)
    assert code == 0 and json.loads(out) == {"pruned": [1]}


# -- superseded facts ------------------------------------------------------------------------------

def test_superseded_fact_is_left_out_and_get_says_by_whom(mem, store_path):
    berlin = mem.remember("Alice lives in Berlin")
    lisbon = mem.remember("Alice lives in Lisbon", supersedes=berlin.id)
    assert [h.id for h in mem.recall("where does Alice live")] == [lisbon.id]
    assert {h.id for h in mem.recall("Alice lives", include_superseded=True)} == {berlin.id, lisbon.id}
    assert mem.get(berlin.id).superseded_by == lisbon.id
    assert mem.get(lisbon.id).superseded_by is None
    # A column anyone can read in the sqlite3 shell.
    out = subprocess.run([sqlite3_shell(), str(store_path), "select id, superseded_by from memories order by id"],
                         capture_output=True, text=True, check=True).stdout
    assert out.split() == [f"{berlin.id}|{lisbon.id}", f"{lisbon.id}|"]


def test_superseding_a_missing_memory_writes_nothing(mem):
    with pytest.raises(MemoryNotFoundError, match="42"):
        mem.remember("Bob moved to Porto", supersedes=42)
    with pytest.raises(MemoryNotFoundError):
        mem.remember_many(["first", {"text": "second", "supersedes": 99}])
    assert mem.count() == 0


def test_self_supersede_and_double_supersede_are_refused(mem):
    a = mem.remember("the meeting is on Monday")
    with pytest.raises(InvalidInputError, match="itself"):
        mem.remember("the meeting is on  Monday", supersedes=a.id)  # a duplicate of a: a would supersede a
    b = mem.remember("the meeting is on Tuesday", supersedes=a.id)
    with pytest.raises(InvalidInputError, match=f"already superseded by memory {b.id}"):
        mem.remember("the meeting is on Wednesday", supersedes=a.id)
    assert mem.count(include_superseded=True) == 2 and mem.get(a.id).superseded_by == b.id


def test_a_link_that_would_close_a_cycle_is_refused(mem):
    a = mem.remember("version one")
    b = mem.remember("version two", supersedes=a.id)
    c = mem.remember("version three", supersedes=b.id)
    # Through the API a superseder is always current, so only this lower call can try a cycle.
    with pytest.raises(InvalidInputError, match="cycle"):
        superseding.supersede(mem._conn, c.id, a.id)  # a -> b -> c already: c superseded by a closes it
    assert [mem.get(i).superseded_by for i in (a.id, b.id, c.id)] == [b.id, c.id, None]


def test_forgetting_the_newer_memory_does_not_resurrect_the_old_one(mem):
    old = mem.remember("the office wifi is CorpNet")
    new = mem.remember("the office wifi is CorpNet-5G", supersedes=old.id)
    mem.forget(new.id)
    # The old one stays superseded by an id that no longer exists (ids are never reused).
    assert mem.get(old.id).superseded_by == new.id
    assert mem.recall("office wifi") == []
    assert [h.id for h in mem.recall("office wifi", include_superseded=True)] == [old.id]
    again = mem.remember("the office wifi is CorpNet")  # not a duplicate of a superseded memory
    assert again.id != old.id and again.duplicate_of is None
    mem.forget(again.id)
    assert mem.reinstate(old.id).superseded_by is None
    assert [h.id for h in mem.recall("office wifi")] == [old.id]
    with pytest.raises(MemoryNotFoundError):
        mem.reinstate(new.id)


def test_cli_supersedes(capsys, store_path):
    db = ["--db", str(store_path), "--tier", "minimal"]
    cli(capsys, "remember", "the printer is on floor 2", *db)
    code, out, _ = cli(capsys, "remember", "the printer is on floor 3", "--supersedes", "1", "--json", *db)
    assert code == 0 and json.loads(out)["id"] == 2
    code, out, _ = cli(capsys, "get", "1", "--json", *db)
    assert json.loads(out)["superseded_by"] == 2
    code, _, err = cli(capsys, "remember", "nope", "--supersedes", "77", *db)
    assert code == 1 and "no memory with id 77" in err


# -- recency ---------------------------------------------------------------------------------------

def test_half_life_halves_a_score_per_half_life(mem):
    new = mem.remember("the cat is called Miso", created_at=ago(0), dedup=False)
    old = mem.remember("the cat is called Miso", created_at=ago(60), dedup=False)
    plain = {h.id: h.score for h in mem.recall("cat Miso")}
    assert plain[new.id] == plain[old.id]
    decayed = {h.id: h.score for h in mem.recall("cat Miso", half_life_days=30)}
    assert decayed[new.id] == pytest.approx(plain[new.id], rel=1e-6)
    assert decayed[old.id] == pytest.approx(plain[old.id] / 4, rel=1e-6)
    as_of = {h.id: h.score for h in mem.recall("cat Miso", half_life_days=30, as_of=ago(-30))}
    assert as_of[new.id] == pytest.approx(plain[new.id] / 2, rel=1e-6)
    assert [h.id for h in mem.recall("cat Miso", half_life_days=float("inf"))] == [old.id, new.id]


def test_store_default_half_life_and_pins_never_decay(mem, capsys, store_path):
    new = mem.remember("the boiler code is 1234", created_at=ago(0), dedup=False)
    old = mem.remember("the boiler code is 1234", created_at=ago(90), dedup=False, pinned=True)
    mem.update(old.id, pinned=False)
    assert [h.id for h in mem.recall("boiler code")] == [old.id, new.id]  # equal scores: id order
    assert cli(capsys, "config", "set", "half_life_days", "30", "--db", str(store_path), "--tier", "minimal")[0] == 0
    assert mem.config("half_life_days") == "30.0"
    assert [h.id for h in mem.recall("boiler code")] == [new.id, old.id]
    mem.update(old.id, pinned=True)
    hits = mem.recall("boiler code")
    assert hits[0].id == old.id and hits[0].score == pytest.approx(hits[1].score * (1 + mem.ranking.pin_boost))
    mem.config("half_life_days", unset=True)
    assert mem.config("half_life_days") is None
    with pytest.raises(InvalidInputError):
        mem.config("half_life_days", "-3")
    with pytest.raises(InvalidInputError):
        mem.recall("boiler", half_life_days=0)


# -- pins ------------------------------------------------------------------------------------------

def test_a_pinned_match_ranks_above_unpinned_ones_of_similar_score(mem):
    unpinned = mem.remember("rust borrow checker notes and more")
    pinned = mem.remember("rust borrow checker notes and more and even more words", pinned=True)
    hits = mem.recall("borrow checker")
    assert [h.id for h in hits] == [pinned.id, unpinned.id]
    mem.ranking = replace(mem.ranking, pin_boost=0.0)
    assert [h.id for h in mem.recall("borrow checker")] == [unpinned.id, pinned.id]
    far = mem.remember("borrow checker borrow checker borrow checker")
    mem.ranking = replace(mem.ranking, pin_boost=0.25)
    assert mem.recall("borrow checker")[0].id == far.id  # a boost, not an override


def test_list_pinned(mem, capsys, store_path):
    mem.remember("a")
    p = mem.remember("b", pinned=True)
    mem.remember("c", pinned=True, expires_at=PAST)
    assert [m.id for m in mem.iter(pinned=True)] == [p.id]
    code, out, _ = cli(capsys, "list", "--pinned", "--json", "--db", str(store_path), "--tier", "minimal")
    assert code == 0 and [json.loads(line)["id"] for line in out.splitlines()] == [p.id]
