"""Hostile input to the library: every refusal is a MementoError,
nothing half-written, and everything accepted reads back and exports."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from memento import InvalidInputError, MemoryNotFoundError, validate

MAX_DEPTH = getattr(validate, "MAX_METADATA_DEPTH", 32)  # read by parametrize at collection


# -- item 5: one fixed-width time form -------------------------------------------------------------

def test_times_before_year_1000_are_zero_padded_and_sort_and_filter(mem):
    old = mem.remember("the battle", created_at="0500-06-01T12:00:00Z")
    new = mem.remember("the treaty", created_at="1999-01-01T00:00:00Z")
    assert old.created_at == "0500-06-01T12:00:00.000Z"
    assert mem.remember("a date object", created_at=datetime(7, 1, 2, tzinfo=timezone.utc)).created_at \
        == "0007-01-02T00:00:00.000Z"
    stats = mem.stats()
    assert stats.oldest == "0007-01-02T00:00:00.000Z" and stats.newest > stats.oldest
    # text comparison in SQL must order them like time does
    assert [h.id for h in mem.recall("battle treaty", since="0400-01-01", until="1000-01-01")] == [old.id]
    assert [h.id for h in mem.recall("battle treaty", since="1000-01-01")] == [new.id]


def test_every_stored_time_has_one_width(mem):
    for when in ("0001-01-01T00:00:00Z", "0999-12-31T23:59:59.999Z", "9999-12-31T23:59:59.999Z",
                 datetime(1, 1, 1, tzinfo=timezone.utc), "2026-02-03T04:05:06.789+05:30"):
        m = mem.remember("x", created_at=when)
        assert len(m.created_at) == 24 and m.created_at.endswith("Z"), m.created_at
        assert datetime.fromisoformat(m.created_at.replace("Z", "+00:00"))  # parses back


@pytest.mark.parametrize("when", [
    "0001-01-01T00:00:00+01:00",                  # before year 1 once shifted to UTC
    "9999-12-31T23:59:59-01:00",                  # after year 9999 in UTC
    datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5))),
    datetime.max.replace(tzinfo=timezone(timedelta(hours=-3))),
])
def test_times_beyond_the_datetime_limits_are_clear_errors(mem, when):
    with pytest.raises(InvalidInputError, match="UTC"):
        mem.remember("x", created_at=when)
    with pytest.raises(InvalidInputError):
        mem.recall("x", since=when)
    assert mem.count() == 0


# -- item 6: metadata depth ------------------------------------------------------------------------

def nested(depth: int) -> dict:
    value: dict = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def test_metadata_at_the_depth_limit_reads_back_and_exports(mem, store_path, capsys):
    from memento.cli import main
    deepest = nested(MAX_DEPTH)
    m = mem.remember("deep", metadata=deepest)
    assert mem.get(m.id).metadata == deepest
    for argv in (["export"], ["list", "--json"], ["recall", "deep", "--json"]):
        assert main([*argv, "--db", str(store_path)]) == 0, argv
        assert json.loads(capsys.readouterr().out.splitlines()[0])["metadata"] == deepest, argv
    assert main(["get", str(m.id), "--json", "--db", str(store_path)]) == 0
    assert json.loads(capsys.readouterr().out)["metadata"] == deepest


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 300, 1_000, 100_000])
def test_metadata_nested_too_deep_is_refused(mem, depth):
    m = mem.remember("kept")
    with pytest.raises(InvalidInputError, match="nest"):
        mem.remember("deep", metadata=nested(depth))
    with pytest.raises(InvalidInputError, match="nest"):
        mem.remember_many([{"text": "deep", "metadata": {"list": [nested(depth)]}}])
    with pytest.raises(InvalidInputError, match="nest"):
        mem.update(m.id, metadata=nested(depth))
    assert mem.count() == 1 and mem.get(m.id).metadata == {}


def test_self_referencing_metadata_is_refused(mem):
    loop: dict = {}
    loop["self"] = loop
    with pytest.raises(InvalidInputError):
        mem.remember("loop", metadata=loop)


# -- item 12: values no caller should be able to turn into a traceback ---------------------------

@pytest.mark.parametrize("bad_id", [0, -1, 2**63, -2**63 - 1, 10**30])
def test_ids_out_of_range_are_clear_errors(mem, bad_id):
    mem.remember("here")
    for call in (lambda: mem.get(bad_id), lambda: mem.forget(bad_id), lambda: mem.update(bad_id, text="x")):
        with pytest.raises(InvalidInputError, match="id"):
            call()
    assert mem.count() == 1


def test_the_largest_id_is_just_not_found(mem):
    with pytest.raises(MemoryNotFoundError):
        mem.get(2**63 - 1)


@pytest.mark.parametrize("page_size", [0, -1, 2.5, True, "10"])
def test_iter_page_size_must_be_positive(mem, page_size):
    mem.remember("x")
    with pytest.raises(InvalidInputError, match="page_size"):
        mem.iter(page_size=page_size)   # refused where it is passed, before any iteration


@pytest.mark.parametrize("items", [None, "hello", b"hello", 42, {"text": "a dict is one item"}])
def test_remember_many_needs_an_iterable_of_items(mem, items):
    with pytest.raises(InvalidInputError, match="iterable"):
        mem.remember_many(items)
    with pytest.raises(InvalidInputError, match="iterable"):
        mem.remember_stream(items)
    assert mem.count() == 0


# -- item 13 ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("batch_size", [0, -5, 1.5, True])
def test_backfill_batch_size_must_be_positive(mem, batch_size):
    with pytest.raises(InvalidInputError, match="batch_size"):
        mem.backfill(batch_size=batch_size)
    with pytest.raises(InvalidInputError, match="limit"):
        mem.backfill(limit=batch_size)


def test_istanbul_is_a_tag_and_matches_however_it_is_cased(mem):
    m = mem.remember("a trip", tags=["İstanbul"])
    assert m.tags == ("i̇stanbul",)
    for spelling in ("İstanbul", "i̇stanbul", "İSTANBUL", "I\u0307stanbul"):
        assert [h.id for h in mem.recall("trip", tags=[spelling])] == [m.id], spelling
        assert [x.id for x in mem.iter(tags=[spelling])] == [m.id], spelling


def test_tags_are_casefolded_and_nfc(mem):
    assert validate.tag("Straße") == validate.tag("STRASSE") == "strasse"
    assert validate.tag("Cafe\u0301") == validate.tag("CAFÉ") == "café"  # decomposed é -> one code point
    with pytest.raises(InvalidInputError):
        validate.tag("\u0301leading-mark")  # a tag still starts with a letter or digit


# -- seam: remember_many / remember_stream -----------------------------------------------------

def test_remember_many_default_is_all_or_nothing_even_for_a_generator(mem):
    items = ({"text": f"item {i}"} if i != 1200 else {"text": ""} for i in range(1500))
    with pytest.raises(InvalidInputError):
        mem.remember_many(items)
    assert mem.count() == 0


def test_remember_many_with_batch_size_commits_each_batch(mem):
    seen = []
    items = ({"text": f"item {i}"} if i != 25 else {"text": ""} for i in range(40))
    with pytest.raises(InvalidInputError):
        mem.remember_many(items, batch_size=10, progress=seen.append)
    assert seen == [10, 10] and mem.count() == 20   # the batch holding the bad item stored nothing
    made = mem.remember_many((f"more {i}" for i in range(25)), batch_size=10, progress=seen.append)
    assert [m.text for m in made] == [f"more {i}" for i in range(25)] and seen[2:] == [10, 10, 5]


def test_remember_stream_reads_lazily_and_returns_the_count(mem):
    pulled = []

    def items():
        for i in range(35):
            pulled.append(i)
            yield f"streamed {i}"

    counts_when_committed = []

    def progress(n):
        counts_when_committed.append((n, len(pulled), mem.count()))

    assert mem.remember_stream(items(), batch_size=10, progress=progress) == 35
    # each batch is committed before the next is read: the input is never held whole
    assert counts_when_committed == [(10, 10, 10), (10, 20, 20), (10, 30, 30), (5, 35, 35)]


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True])
def test_remember_many_batch_size_is_checked(mem, batch_size):
    with pytest.raises(InvalidInputError, match="batch_size"):
        mem.remember_many(["x"], batch_size=batch_size)
    with pytest.raises(InvalidInputError, match="batch_size"):
        mem.remember_stream(["x"], batch_size=batch_size)
    assert mem.count() == 0


def test_new_memory_is_frozen_and_validated(mem):
    item = validate.new_memory({"text": "hi", "tags": ["A", "a"], "metadata": {"k": 1}}, dim=None)
    assert (item.text, item.tags, item.metadata) == ("hi", ("a",), '{"k":1}')
    with pytest.raises(Exception):
        item.text = "changed"  # type: ignore[misc]
    made = mem.remember_many([item])
    assert made[0].tags == ("a",) and made[0].metadata == {"k": 1}
    with pytest.raises(InvalidInputError, match="unknown keys"):
        validate.new_memory({"text": "x", "colour": "red"}, dim=None)


@pytest.mark.vector
def test_batches_are_embedded_and_searchable_in_vector_tiers(vmem):
    seen = []
    texts = ["I adopted a kitten", "The quarterly report is due", "We hiked up the mountain",
             "My cat sleeps all day", "Bought oat milk"]
    assert vmem.remember_stream(iter(texts), batch_size=2, progress=seen.append) == 5
    assert seen == [2, 2, 1]
    assert all(m.embedded_with == vmem.model for m in vmem.iter())
    assert vmem.stats().pending_embeddings == 0
    assert vmem.recall("feline pet", k=2, mode="vector")[0].text in ("I adopted a kitten", "My cat sleeps all day")
    # a checked NewMemory carrying the store's vector size goes in as is; another size is refused
    item = validate.new_memory({"text": "given vector", "vector": [1.0] + [0.0] * (vmem.dim - 1)}, vmem.dim)
    assert vmem.remember_many([item], batch_size=1)[0].embedded_with == vmem.model
    with pytest.raises(InvalidInputError, match="numbers"):
        vmem.remember_many([validate.new_memory({"text": "x", "vector": [1.0, 0.0]}, 2)])


def test_counts_beyond_sqlite_integers_are_clear_errors(mem):
    """newest(limit=2**70) and iter(page_size=2**63) raised OverflowError from the binding."""
    mem.remember("x")
    for huge in (2**63, 2**70):
        with pytest.raises(InvalidInputError, match="at most 2\\*\\*63-1"):
            mem.newest(huge)
        with pytest.raises(InvalidInputError, match="page_size"):
            list(mem.iter(page_size=huge))
    assert [m.text for m in mem.newest(2**63 - 1)] == ["x"]


@pytest.mark.parametrize("field, value", [
    ("gamma", float("nan")), ("w_vector", float("inf")), ("w_speaker", -0.5), ("pin_boost", "1"),
    ("candidates", 0), ("candidates", 2.5), ("candidates", True), ("probe_cells", -1),
    ("exact_limit", 2**63), ("common_word_share", 0.0), ("common_word_share", 1.5),
    ("cell_prefilter_factor", 0.0), ("relevance", None), ("common_word_holders", 0),
    ("common_word_holders", 2**63), ("pool_walk_holders", -1), ("pool_walk_holders", float("nan"))])
def test_a_ranking_setting_out_of_range_is_refused_when_made_and_recall_is_unchanged(mem, field, value):
    """Each RankingSettings field reaches SQL as a named parameter: a NaN, a negative weight or a
    count of 0 is refused by name when the value is made (dataclasses.replace), and the store's
    settings stay as they were; so is a floor outside 0..1, a negative share, or a store's ranking
    set to anything but a RankingSettings."""
    import dataclasses

    from memento import ranking
    kept = mem.remember("Alice drinks green tea")
    before = mem.ranking
    with pytest.raises(InvalidInputError, match=field):
        mem.ranking = dataclasses.replace(mem.ranking, **{field: value})
    assert mem.ranking is before and [h.id for h in mem.recall("green tea", min_score=0)] == [kept.id]
    for bad in ({"floor": 1.5}, {"floor": -0.1}, {"share": -1.0}, {"bias": float("nan")}):
        with pytest.raises(InvalidInputError, match=next(iter(bad))):
            dataclasses.replace(before.relevance, **bad)
    with pytest.raises(InvalidInputError, match="RankingSettings"):
        mem.ranking = {"gamma": 0.3}
    assert mem.ranking is before
    ranking.RankingSettings(candidates=1, common_word_share=1.0, w_vector=0.0, exact_limit=0)   # the edges pass
