"""Memory over time survives `memento export` and `memento import`: a superseded fact
stays superseded (by the right memory), an expiring note keeps its expiry, an expired one stays
hidden until pruned, and ids are kept where the store never used them. Real stores, minimal tier;
the vector tiers at the end."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import memento
from memento.cli import main
from memento.errors import InvalidInputError, MemoryNotFoundError

from .test_expiry_and_superseding import FUTURE, PAST

KEPT = ("id", "text", "tags", "metadata", "created_at", "pinned", "thread", "expires_at", "superseded_by")


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def fill(mem) -> dict:
    """A store after months: history, a gap, an expiring note, an expired one, a retracted correction."""
    made = {}
    made["berlin"] = mem.remember("Alice lives in Berlin", tags=["alice", "home"],
                                  metadata={"src": "chat", "n": [1, 2]}, pinned=True, thread="alice",
                                  created_at="2024-01-01T09:00:00Z")
    gone = mem.remember("a note forgotten since")
    made["lisbon"] = mem.remember("Alice moved to Lisbon", supersedes=made["berlin"].id, thread="alice",
                                  created_at="2024-06-01T09:00:00Z")
    mem.forget(gone.id)
    made["wifi"] = mem.remember("wifi guest password tulip42", expires_at=FUTURE, tags=["scratch"])
    made["door"] = mem.remember("old door code 1234", expires_at=PAST)
    made["plain"] = mem.remember("Carol plays the cello")
    made["acme"] = mem.remember("Bob works at Acme")
    retracted = mem.remember("Bob works at Initech", supersedes=made["acme"].id)
    mem.forget(retracted.id)       # the correction was retracted: Acme stays superseded (README);
    made["retracted"] = retracted  # it is also the highest id the store ever gave
    return made


def rows(mem) -> list:
    return mem._conn.execute("SELECT id, text, tags, metadata, created_at, pinned, thread, expires_at, superseded_by "
                             "FROM memories ORDER BY id").fetchall()


def export_file(capsys, db: Path, out: Path) -> Path:
    code, text, err = cli(capsys, "export", "--db", db, "--tier", "minimal")
    assert code == 0, err
    out.write_text(text, encoding="utf-8")
    return out


def test_export_then_import_into_a_new_store_restores_every_memory_as_it_was(capsys, tmp_path):
    source, target = tmp_path / "a.db", tmp_path / "b.db"
    with memento.open(source, tier="minimal") as mem:
        made = fill(mem)
        before = rows(mem)
    dump = export_file(capsys, source, tmp_path / "all.jsonl")
    lines = [json.loads(line) for line in dump.read_text().splitlines()]
    expired = [line["text"] for line in lines if line["expires_at"] == "2020-01-01T00:00:00.000Z"]
    assert expired == ["old door code 1234"]
    code, _, err = cli(capsys, "import", dump, "--db", target, "--tier", "minimal")
    assert code == 0, err
    with memento.open(target, tier="minimal") as mem:
        assert rows(mem) == before              # same ids, texts, tags, metadata, times, pins, threads, links
        assert [h.id for h in mem.recall("where does Alice live")] == [made["lisbon"].id]
        assert mem.recall("Bob works") == [] and mem.recall("door code") == []
        assert mem.get(made["acme"].id).superseded_by == made["retracted"].id
        with pytest.raises(MemoryNotFoundError):
            mem.get(made["retracted"].id)
        assert mem.get(made["wifi"].id).expires_at == "2999-01-01T00:00:00.000Z"
        assert mem.remember("a new memory after the restore").id > made["retracted"].id  # ids are never reused
        assert mem.prune_expired() == [made["door"].id]


def test_import_into_a_store_in_use_renumbers_taken_ids_and_keeps_the_links(capsys, tmp_path):
    source, target = tmp_path / "a.db", tmp_path / "b.db"
    with memento.open(source, tier="minimal") as mem:
        fill(mem)
    dump = export_file(capsys, source, tmp_path / "all.jsonl")
    with memento.open(target, tier="minimal") as mem:
        own = [mem.remember(f"the target's own memory {i}").id for i in range(4)]
        mem.forget(own[-1])       # id 4 was used here once: it must never come back
    code, _, err = cli(capsys, "import", dump, "--db", target, "--tier", "minimal")
    assert code == 0, err
    with memento.open(target, tier="minimal") as mem:
        by_text = {m.text: m for m in mem.iter(include_expired=True)}
        assert all(m.id not in own[-1:] for m in by_text.values())
        berlin, lisbon = by_text["Alice lives in Berlin"], by_text["Alice moved to Lisbon"]
        assert berlin.superseded_by == lisbon.id and lisbon.superseded_by is None
        assert berlin.id > own[-1] and berlin.pinned and berlin.tags == ("alice", "home")
        acme = by_text["Bob works at Acme"]
        assert acme.superseded_by is not None and acme.superseded_by not in {m.id for m in by_text.values()}
        assert [h.id for h in mem.recall("where does Alice live")] == [lisbon.id]
        assert mem.recall("Bob works") == []
        later = mem.remember("written after the import")
        assert later.id > max(m.id for m in by_text.values()) and later.id != acme.superseded_by


def test_links_resolve_forward_and_backward_within_one_import(mem):
    mem.remember_many(["one", "two", "three"])   # ids 1-3 are taken here
    made = mem.remember_many([
        {"id": 2, "text": "Dana lives in Oslo", "superseded_by": 9},        # forward: 9 comes later
        {"id": 9, "text": "Dana lives in Bergen"},
        {"id": 7, "text": "Evan uses vim", "superseded_by": 5},             # backward? 5 comes later too
        {"id": 5, "text": "Evan uses emacs now"},
        {"id": 12, "text": "Fay drives a bus"},
        {"id": 11, "text": "Fay drove a taxi", "superseded_by": 12},        # backward: 12 came before
    ])
    oslo, bergen, vim, emacs, bus, taxi = made
    assert oslo.id not in (1, 2, 3) and oslo.superseded_by == bergen.id
    assert vim.superseded_by == emacs.id and taxi.superseded_by == bus.id
    assert bus.id == 12 and taxi.id == 11 and bergen.id == 9 and vim.id == 7   # never used here: kept
    assert [mem.get(m.id).superseded_by for m in made] == [bergen.id, None, emacs.id, None, None, bus.id]
    assert {h.id for h in mem.recall("Dana Evan Fay lives uses drives drove", k=20)} == {bergen.id, emacs.id, bus.id}


def test_links_hold_across_batches_while_another_writer_takes_ids(store_path):
    mem = memento.open(store_path, tier="minimal")
    other = memento.open(store_path, tier="minimal")
    taken = []

    def items():
        yield {"id": 1, "text": "Gus lives in Rome", "superseded_by": 3}
        taken.append(other.remember("another agent writes between the batches").id)
        yield {"id": 2, "text": "Gus has a cat"}
        taken.append(other.remember("and once more").id)
        yield {"id": 3, "text": "Gus lives in Naples"}

    assert mem.remember_stream(items(), batch_size=1) == 3
    rome, naples = mem.get(1), [m for m in mem.iter() if m.text == "Gus lives in Naples"][0]
    assert rome.superseded_by == naples.id == 3 and naples.superseded_by is None
    assert 3 not in taken and [m.text for m in mem.iter() if m.id in taken] == [
        "another agent writes between the batches", "and once more"]
    assert [h.id for h in mem.recall("lives in Rome or Naples")] == [3]
    mem.close()
    other.close()


def test_an_imported_superseded_memory_is_never_merged_into_a_current_one(mem):
    current = mem.remember("Hal lives in Paris")
    made = mem.remember_many([{"id": 1, "text": "Hal lives in Paris", "superseded_by": 2},
                              {"id": 2, "text": "Hal lives in Lyon"}])
    assert made[0].id != current.id and made[0].duplicate_of is None and made[0].superseded_by == made[1].id
    assert mem.get(current.id).superseded_by is None       # the store's own fact is left as it was
    expired = mem.remember_many([{"text": "Hal lives in Paris", "expires_at": PAST}])[0]
    assert expired.id != current.id and expired.duplicate_of is None   # history is stored, not merged
    assert mem.count(include_superseded=True, include_expired=True) == 4


def test_a_superseder_merged_into_a_stored_duplicate_takes_over_the_link(mem):
    lyon = mem.remember("Ida lives in Lyon")
    for batch in (None, 1):
        made = mem.remember_many([{"id": 40, "text": "Ida lives in Nice", "superseded_by": 41},
                                  {"id": 41, "text": "Ida lives in Lyon"}], batch_size=batch)
        assert made[1].id == lyon.id and made[1].duplicate_of == lyon.id
        assert mem.get(made[0].id).superseded_by == lyon.id
    assert mem.count() == 1 and mem.count(include_superseded=True) == 3


@pytest.mark.parametrize("items, words", [
    ([{"id": 1, "text": "a"}, {"id": 1, "text": "b"}], "id 1 appears twice"),
    ([{"id": 1, "text": "a", "superseded_by": 1}], "itself"),
    ([{"id": 1, "text": "a", "superseded_by": 2}, {"id": 2, "text": "b", "superseded_by": 1}], "cycle"),
    ([{"text": "a", "superseded_by": 0}], "superseded_by"),
    ([{"text": "a", "id": "7"}], "id"),
    ([{"text": "a", "superseded_by": True}], "superseded_by"),
])
def test_bad_ids_and_links_are_refused_and_nothing_is_written(mem, items, words):
    with pytest.raises(InvalidInputError, match=words):
        mem.remember_many(items)
    assert mem.count(include_superseded=True, include_expired=True) == 0


def test_a_crafted_huge_id_does_not_use_up_the_stores_ids(mem):
    made = mem.remember_many([{"id": 2**63 - 1, "text": "from far away"}, {"id": 2**53, "text": "far too"}])
    assert all(m.id < 2**53 for m in made)
    assert mem.remember("the store still takes new memories").id < 2**53


def test_cli_import_stops_on_a_duplicate_id_before_writing(capsys, tmp_path):
    dump = tmp_path / "twice.jsonl"
    dump.write_text('{"id": 3, "text": "a"}\n{"id": 3, "text": "b"}\n', encoding="utf-8")
    code, _, err = cli(capsys, "import", dump, "--db", tmp_path / "x.db", "--tier", "minimal")
    assert code != 0 and "line 2" in err and "id 3 appears twice" in err
    with memento.open(tmp_path / "x.db", tier="minimal") as mem:
        assert mem.count(include_superseded=True, include_expired=True) == 0


def test_markdown_export_holds_current_memories_only(capsys, tmp_path):
    db = tmp_path / "a.db"
    with memento.open(db, tier="minimal") as mem:
        fill(mem)
    code, _, err = cli(capsys, "export", "--format", "markdown", "--out", tmp_path / "md", "--db", db,
                       "--tier", "minimal")
    assert code == 0, err
    text = "".join(p.read_text() for p in sorted((tmp_path / "md" / "memory").glob("*.md")))
    for current in ("Alice moved to Lisbon", "wifi guest password", "Carol plays the cello"):
        assert current in text
    for hidden in ("Alice lives in Berlin", "Bob works at Acme", "old door code"):
        assert hidden not in text


def test_vector_tier_round_trip_keeps_superseded_facts_out(capsys, tmp_path, vector_tier):
    source, target = tmp_path / "a.db", tmp_path / "b.db"
    with memento.open(source, tier=vector_tier) as mem:
        made = fill(mem)
    dump = export_file(capsys, source, tmp_path / "all.jsonl")
    code, _, err = cli(capsys, "import", dump, "--db", target, "--tier", vector_tier)
    assert code == 0, err
    with memento.open(target, tier=vector_tier) as mem:
        for mode in ("hybrid", "vector", "keyword"):
            ids = {h.id for h in mem.recall("where does Alice live", mode=mode, k=20)}
            assert made["berlin"].id not in ids and made["door"].id not in ids, mode
        assert mem.recall("where does Alice live", mode="vector")[0].id == made["lisbon"].id
        assert mem.stats().pending_embeddings == 0
