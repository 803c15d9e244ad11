"""A hypothesis state machine drives the store against a plain-Python model of it: remember,
remember_many, update, forget, recall, close-and-reopen; the invariants are checked after every step."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import memento
from memento import tiers

words = st.sampled_from("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima".split())
texts = st.lists(words, min_size=1, max_size=6).map(" ".join)
tags = st.lists(st.sampled_from(["red", "green", "blue"]), max_size=2, unique=True)
metadata = st.dictionaries(st.sampled_from(["a", "b"]), st.integers(0, 9), max_size=2)


class StoreMachine(RuleBasedStateMachine):
    tier = "minimal"

    @initialize()
    def open_store(self):
        self.dir = tempfile.mkdtemp()
        self.path = Path(self.dir) / "s.db"
        self.mem = memento.open(self.path, tier=self.tier)
        self.model = {}        # id -> (text, tags, metadata)
        self.forgotten = set()

    def teardown(self):
        if hasattr(self, "mem"):
            self.mem.close()
            shutil.rmtree(self.dir, ignore_errors=True)

    @rule(text=texts, tags=tags, meta=metadata)
    def remember(self, text, tags, meta):
        m = self.mem.remember(text, tags=tags, metadata=meta, dedup=False)
        assert m.id not in self.model and m.id not in self.forgotten
        self.model[m.id] = (text, tuple(tags), meta)

    @rule(items=st.lists(st.tuples(texts, tags), max_size=4))
    def remember_many(self, items):
        made = self.mem.remember_many([{"text": t, "tags": g} for t, g in items], dedup=False)
        for m, (t, g) in zip(made, items):
            self.model[m.id] = (t, tuple(g), {})

    @precondition(lambda self: self.model)
    @rule(data=st.data(), text=st.none() | texts, tags=st.none() | tags)
    def update(self, data, text, tags):
        memory_id = data.draw(st.sampled_from(sorted(self.model)))
        self.mem.update(memory_id, text=text, tags=tags)
        old_text, old_tags, meta = self.model[memory_id]
        self.model[memory_id] = (old_text if text is None else text, old_tags if tags is None else tuple(tags), meta)

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def forget(self, data):
        memory_id = data.draw(st.sampled_from(sorted(self.model)))
        self.mem.forget(memory_id)
        del self.model[memory_id]
        self.forgotten.add(memory_id)

    @rule(query=texts, tag=st.none() | st.sampled_from(["red", "green", "blue"]))
    def recall(self, query, tag):
        hits = self.mem.recall(query, k=20, tags=[tag] if tag else None)
        ids = [h.id for h in hits]
        assert not set(ids) & self.forgotten
        assert set(ids) <= set(self.model)
        if tag:
            assert all(tag in self.model[i][1] for i in ids)
        # keyword recall finds exactly the live memories sharing a word with the query (and the tag)
        words = set(query.split())
        expected = {i for i, (text, tags, _) in self.model.items()
                    if words & set(text.split()) and (tag is None or tag in tags)}
        found = {h.id for h in self.mem.recall(query, k=20, tags=[tag] if tag else None, mode="keyword")}
        assert found == expected if len(expected) <= 20 else (len(found) == 20 and found <= expected)

    @rule()
    def reopen(self):
        self.mem.close()
        self.mem = memento.open(self.path, tier=self.tier)

    @invariant()
    def matches_model(self):
        if not hasattr(self, "mem"):
            return
        assert self.mem.count() == len(self.model)
        for memory_id, (text, tags, meta) in self.model.items():
            got = self.mem.get(memory_id)
            assert (got.text, got.tags, got.metadata) == (text, tags, meta)
        for memory_id in self.forgotten:
            with pytest.raises(memento.MemoryNotFoundError):
                self.mem.get(memory_id)

    @invariant()
    def indexes_in_step(self):
        if not hasattr(self, "mem"):
            return
        failed = [c for c in self.mem.doctor() if not c.ok and c.name != "write + keyword search"]
        assert not failed, failed
        conn = self.mem._conn
        assert conn.execute("SELECT count(*) FROM memories_fts_docsize").get == len(self.model)
        if self.tier != "minimal":
            self.mem.backfill()
            assert conn.execute("SELECT count(*) FROM memories_vec").get == len(self.model)
            stray = conn.execute("SELECT count(*) FROM memories_vec WHERE rowid NOT IN (SELECT id FROM memories)").get
            assert stray == 0
        assert self.mem.repair() == []   # what the API made never looks like drift to repair


TestMinimalStore = StoreMachine.TestCase
TestMinimalStore.settings = settings(max_examples=40, stateful_step_count=25, deadline=None,
                                     suppress_health_check=[HealthCheck.too_slow])


class VectorStoreMachine(StoreMachine):
    tier = "full"


@pytest.mark.vector
class TestVectorStore(VectorStoreMachine.TestCase):
    settings = settings(max_examples=8, stateful_step_count=15, deadline=None,
                        suppress_health_check=[HealthCheck.too_slow])

    def setUp(self):
        if tiers.missing_packages("full"):
            from .conftest import require_tier
            require_tier("full")
