"""Vectors computed by the caller (remember(vector=), items' "vector", recall(vector=)), real model."""
from __future__ import annotations

import json
import math
import struct

import pytest

import memento

from .conftest import run_python

pytestmark = pytest.mark.vector

PETS = "I adopted a kitten from the shelter last week"
OTHERS = ["The quarterly budget review is on Monday", "Bob repaired the garage door hinge",
          "Flight to Lisbon leaves at 7:50 from terminal two", "The printer on floor three is out of toner"]


def stored_vectors(mem) -> dict:
    """text -> the float32 vector the store holds for it (read as a sqlite3 user would)."""
    rows = mem._conn.execute("SELECT m.text, v.embedding FROM memories m JOIN memories_vec v ON v.rowid = m.id")
    return {text: list(struct.unpack(f"<{len(blob) // 4}f", blob)) for text, blob in rows}


@pytest.fixture
def model_vectors(vmem):
    """The model's own vectors for PETS and OTHERS, made by a store that ran the model."""
    vmem.remember_many(OTHERS + [PETS])
    return stored_vectors(vmem)


def test_caller_vectors_rank_like_the_models_own(vmem, model_vectors, tmp_path):
    with memento.open(tmp_path / "fed.db", tier=vmem.tier) as fed:
        # Scaled by 3 and passed as lists, tuples and bytes: all normalized to what the model stores.
        items = [{"text": t, "vector": [3 * x for x in v]} for t, v in model_vectors.items() if t != PETS]
        fed.remember_many(items)
        pet = fed.remember(PETS, vector=struct.pack("<384f", *model_vectors[PETS]))
        assert pet.embedded_with == fed.model == vmem.model and fed.dim == 384
        for text, vector in stored_vectors(fed).items():
            assert max(abs(a - b) for a, b in zip(vector, model_vectors[text])) < 1e-6

        query = "new feline pet"
        ours = [(h.text, round(h.score, 4)) for h in vmem.recall(query, k=5)]
        theirs = [(h.text, round(h.score, 4)) for h in fed.recall(query, k=5)]
        assert theirs == ours and theirs[0][0] == PETS

        # A query vector in place of the model: the pet's own vector finds the pet, with no query text.
        by_vector = fed.recall("", vector=tuple(model_vectors[PETS]), mode="vector", k=2)
        assert by_vector[0].id == pet.id and by_vector[0].score > by_vector[1].score


@pytest.mark.spawns_python
def test_a_store_fed_vectors_never_loads_the_model(vmem, model_vectors, tmp_path):
    """What lets an agent that embeds elsewhere run a vector tier in the memory of the minimal one."""
    (tmp_path / "vectors.json").write_text(json.dumps(model_vectors))
    code = f"""
import json, sys
import memento
V = json.load(open({str(tmp_path / 'vectors.json')!r}))
with memento.open({str(tmp_path / 'fed.db')!r}, tier={vmem.tier!r}) as mem:
    mem.remember_many([{{"text": t, "vector": v}} for t, v in V.items()])
    hits = mem.recall("kitten", vector=V[{PETS!r}], k=3)
heavy = [m for m in ("onnxruntime", "fastembed", "tokenizers") if m in sys.modules]
print(json.dumps({{"top": hits[0].text, "heavy": heavy}}))
"""
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"top": PETS, "heavy": []}


def test_later_with_a_vector_is_embedded_at_once(vmem, model_vectors, tmp_path):
    with memento.open(tmp_path / "fed.db", tier=vmem.tier) as fed:
        m = fed.remember(PETS, vector=model_vectors[PETS], embed="later")
        assert m.embedded_with == fed.model and fed.stats().pending_embeddings == 0


@pytest.mark.parametrize("bad, message", [
    ([0.1] * 383, "383 numbers"),
    (b"\x00" * 100, "100 bytes"),
    ([0.0] * 384, "all zeros"),
    ([math.nan] + [0.1] * 383, "NaN"),
    ([math.inf] + [0.1] * 383, "NaN or infinity"),
    (["a"] * 384, "numbers only"),
    ("0.1, 0.2", "not str"),
    (0.5, "not float"),
])
def test_bad_vectors_are_refused_and_nothing_is_written(vmem, bad, message):
    vmem.remember("already here")
    with pytest.raises(memento.InvalidInputError, match=message):
        vmem.remember(PETS, vector=bad)
    with pytest.raises(memento.InvalidInputError, match=message):
        vmem.remember_many([OTHERS[0], {"text": PETS, "vector": bad}])
    with pytest.raises(memento.InvalidInputError, match=message.replace("not ", "")):
        vmem.recall("kitten", vector=bad)
    assert vmem.count() == 1 and vmem.stats().pending_embeddings == 0


def test_keyword_only_recall_refuses_a_query_vector(vmem, model_vectors):
    with pytest.raises(memento.InvalidInputError, match="mode 'hybrid' or 'vector'"):
        vmem.recall("kitten", vector=model_vectors[PETS], mode="keyword")


def test_the_question_embedded_beside_the_keyword_search_is_the_models_vector(vmem, model_vectors):
    # A hybrid recall embeds the question in a thread while the keyword side searches
    # (memento/recall.py, query_vector): its hits are those of the same recall given that vector.
    question = "Did someone get a new pet from the shelter?"
    own = [(h.id, h.score) for h in vmem.recall(question, k=5, mode="hybrid", min_score=0)]
    given = [(h.id, h.score) for h in vmem.recall(question, k=5, mode="hybrid", min_score=0,
                                                  vector=vmem._vectors.embed([question])[0])]
    assert len(own) == 5 and [i for i, _ in own] == [i for i, _ in given]
    assert [s for _, s in own] == pytest.approx([s for _, s in given], rel=1e-5, abs=1e-6)  # onnxruntime's float noise
