"""Property (hypothesis): whatever a store went through (remembers, supersedes, forgets, expiries),
exporting it and importing the export, in batches of any size, restores it: into a new store row for
row with the same ids; into a store in use with every field and every superseded link intact.
(A file of its own: one pytest process per file on the emulated Pi.)"""
from __future__ import annotations

import io
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import memento
from memento.formats import jsonl

COLUMNS = "text, tags, metadata, created_at, pinned, thread, expires_at"

step = st.one_of(
    st.tuples(st.just("remember"), st.booleans(), st.sampled_from([None, "t1", "t2"])),
    st.tuples(st.just("supersede"), st.integers(0, 50)),
    st.tuples(st.just("forget"), st.integers(0, 50)),
    st.tuples(st.just("expire"), st.integers(0, 50)),
)


def history(mem, steps) -> None:
    n = 0
    for s in steps:
        ids = [m.id for m in mem.iter(include_expired=True)]
        current = [m.id for m in mem.iter() if m.superseded_by is None]
        n += 1
        if s[0] == "remember":
            mem.remember(f"fact number {n}", pinned=s[1], thread=s[2], tags=[f"t{n % 3}"], metadata={"n": n})
        elif s[0] == "supersede" and current:
            mem.remember(f"fact number {n}, a correction", supersedes=current[s[1] % len(current)])
        elif s[0] == "forget" and ids:
            mem.forget(ids[s[1] % len(ids)])
        elif s[0] == "expire" and ids:
            mem.update(ids[s[1] % len(ids)], expires_at="2020-01-01")


def export(mem) -> bytes:
    out = io.StringIO()
    jsonl.write(mem.iter(include_expired=True), out)
    return out.getvalue().encode("utf-8")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(step, max_size=25), batch=st.integers(1, 6), own=st.integers(0, 6), forget_own=st.booleans())
def test_export_then_import_restores_the_store(steps, batch, own, forget_own):
    with tempfile.TemporaryDirectory() as tmp:
        with memento.open(Path(tmp) / "source.db", tier="minimal") as source:
            history(source, steps)
            dump = export(source)
            rows = {r[0]: r[1:] for r in source._conn.execute(f"SELECT id, {COLUMNS}, superseded_by FROM memories")}
        with memento.open(Path(tmp) / "new.db", tier="minimal") as new:
            new.remember_stream(jsonl.read(io.BytesIO(dump), None), batch_size=batch)
            assert {r[0]: r[1:] for r in new._conn.execute(
                f"SELECT id, {COLUMNS}, superseded_by FROM memories")} == rows
        with memento.open(Path(tmp) / "used.db", tier="minimal") as used:
            taken = [used.remember(f"the store's own memory {i}").id for i in range(own)]
            if forget_own and taken:
                used.forget(taken[-1])
            used.remember_stream(jsonl.read(io.BytesIO(dump), None), batch_size=batch)
            got = {r[0]: r[1:] for r in used._conn.execute(
                f"SELECT id, {COLUMNS}, superseded_by FROM memories WHERE text LIKE 'fact number %'")}
            by_text = {r[0]: old for old, r in rows.items()}
            new_id = {by_text[r[0]]: new for new, r in got.items()}   # texts are unique: old id -> new id
            assert sorted(new_id) == sorted(rows) and not set(got) & set(taken)
            dangling = []
            for old, r in rows.items():
                mine = got[new_id[old]]
                assert mine[:-1] == r[:-1]
                if r[-1] is None:
                    assert mine[-1] is None
                elif r[-1] in rows:
                    assert mine[-1] == new_id[r[-1]]
                else:   # its superseder was forgotten: still superseded, by an id no memory has or will get
                    assert mine[-1] is not None and mine[-1] not in got and mine[-1] not in taken
                    dangling.append(mine[-1])
            assert used.count() == source_count(rows) + len(taken) - int(forget_own and bool(taken))
            assert used.remember("one more after the import").id > max(dangling, default=0)


def source_count(rows) -> int:
    return sum(1 for r in rows.values() if r[-1] is None and (r[-2] is None or r[-2] > "2021"))
