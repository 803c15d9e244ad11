"""Property-based tests (hypothesis). The store is created inside each example: hypothesis re-runs
the body many times and examples must not share state."""
from __future__ import annotations

import math
import struct
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import memento
from memento import fts_query, validate

# Any Unicode except NUL and lone surrogates (both rejected on purpose), not blank.
memory_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                       min_size=1, max_size=300).filter(lambda s: s.strip())
tag = st.from_regex(r"[a-z0-9][a-z0-9\-.:/_]{0,20}", fullmatch=True)
metadata = st.dictionaries(st.text(max_size=10), st.one_of(
    st.none(), st.booleans(), st.integers(-2**53, 2**53), st.text(max_size=30),
    st.floats(allow_nan=False, allow_infinity=False)), max_size=4)
any_query = st.text(max_size=200)

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def fresh_store(tmp: str) -> memento.Memento:
    return memento.open(Path(tmp) / "p.db", tier="minimal")


@SETTINGS
@given(st.lists(st.tuples(memory_text, st.lists(tag, max_size=3), metadata), min_size=1, max_size=8))
def test_remembered_comes_back_unchanged(items):
    with tempfile.TemporaryDirectory() as tmp, fresh_store(tmp) as mem:
        made = [mem.remember(text, tags=tags, metadata=meta, dedup=False) for text, tags, meta in items]
        for m, (text, tags, meta) in zip(made, items):
            got = mem.get(m.id)
            assert got.text == text
            assert got.tags == tuple(dict.fromkeys(tags))
            assert got.metadata == meta


@SETTINGS
@given(any_query)
def test_any_query_is_safe(query):
    expr = fts_query.build(query)
    assert expr is None or all(part.startswith('"') and part.endswith('"') for part in expr.split(" OR "))
    with tempfile.TemporaryDirectory() as tmp, fresh_store(tmp) as mem:
        stored = mem.remember("what's Bob's e-mail? AND NOT x* (urgent) NEAR/2 \"quoted\"")
        mem.remember("an unrelated note about gardening")
        hits = mem.recall(query, k=5)
        assert all(isinstance(h, memento.Hit) for h in hits)
        # whatever surrounds it, a query holding a stored word finds that memory, and only what matches
        for word in ("urgent", "NEAR", "quoted"):
            found = mem.recall(f"{query} {word}", k=5)
            assert stored.id in [h.id for h in found], (query, word)
            assert {h.id for h in found} <= {h.id for h in hits} | {stored.id}


@SETTINGS
@given(st.lists(memory_text, min_size=1, max_size=10), st.data())
def test_forgotten_never_comes_back(texts, data):
    with tempfile.TemporaryDirectory() as tmp, fresh_store(tmp) as mem:
        made = mem.remember_many(texts, dedup=False)
        gone = data.draw(st.sets(st.sampled_from([m.id for m in made])))
        for memory_id in gone:
            mem.forget(memory_id)
        for text in texts:
            assert not gone & {h.id for h in mem.recall(text, k=50)}
        assert mem.count() == len(made) - len(gone)


operation = st.one_of(
    st.tuples(st.just("remember"), memory_text),
    st.tuples(st.just("update"), memory_text),
    st.tuples(st.just("forget"), st.integers(0, 20)),
    st.tuples(st.just("many"), st.lists(memory_text, max_size=4)),
)


@SETTINGS
@given(st.lists(operation, max_size=25))
def test_fts_rows_equal_memory_rows(ops):
    with tempfile.TemporaryDirectory() as tmp, fresh_store(tmp) as mem:
        for op, arg in ops:
            ids = [m.id for m in mem.iter()]
            if op == "remember":
                mem.remember(arg)
            elif op == "many":
                mem.remember_many(arg)
            elif ids and op == "update":
                mem.update(ids[len(arg) % len(ids)], text=arg)
            elif ids and op == "forget":
                mem.forget(ids[arg % len(ids)])
        checks = {c.name: c for c in mem.doctor()}
        assert checks["FTS rows = memories"].ok, checks["FTS rows = memories"].detail
        assert checks["FTS5 integrity-check"].ok


@SETTINGS
@given(st.lists(st.floats(width=32), min_size=8, max_size=8), st.floats(min_value=1e-3, max_value=1e3))
def test_caller_vectors_are_refused_or_stored_as_the_same_direction(values, scale):
    """Any 8 floats (NaN, inf, zeros, subnormals included): a clear error, or 8 float32s of length 1
    pointing where the input points, whatever its scale or form (list or float32 bytes)."""
    try:
        stored = validate.vector(values, 8)
    except memento.InvalidInputError:
        assert not all(math.isfinite(v) for v in values) or not any(values) or math.hypot(*values) < 1e-30
        return
    out = struct.unpack("<8f", stored)
    assert abs(math.hypot(*out) - 1.0) < 1e-5
    norm = math.hypot(*values)
    assert all(abs(o - v / norm) < 1e-5 for o, v in zip(out, values))
    scaled = [v * scale for v in values]
    if max(map(abs, scaled)) < 1e38 and math.hypot(*scaled) > 1e-30:   # still a float32 vector
        again = struct.unpack("<8f", validate.vector(struct.pack("<8f", *scaled), 8))
        assert all(abs(a - b) < 1e-4 for a, b in zip(again, out))
