"""Property (hypothesis): any text the store accepts survives a Markdown export and its import
exactly, with its time and tags. (A file of its own: one pytest process per file on the emulated Pi.)"""
from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import memento
from memento.formats import markdown, openclaw

# Everything remember() takes: any character but NUL and lone surrogates, not only whitespace.
storable = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1) \
    .filter(lambda t: t.strip())
# Line breaks and the export's own markup, drawn often: they are where a round trip could break.
awkward = st.lists(st.sampled_from(["\r", "\n", "\r\n", "  ", "- ", "# ", "<!-- memento:memory id=1 -->", "x",
                                    "\u2028", "\x85", "\x0c", "\ufeff", "-->", "\\r"]), min_size=1) \
    .map("".join).filter(lambda t: t.strip())
memory = st.tuples(st.one_of(storable, awkward), st.lists(st.sampled_from(["a", "b.c", "ünï"]), max_size=2),
                   st.integers(0, 2))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(memories=st.lists(memory, min_size=1, max_size=6))
def test_any_text_survives_markdown_export_and_import(memories):
    with tempfile.TemporaryDirectory() as tmp:
        with memento.open(Path(tmp) / "source.db", tier="minimal") as source:
            for text, tags, day in memories:
                source.remember(text, tags=tags, created_at=f"2026-03-1{day}T10:00:00.25Z", dedup=False)
            want = sorted((m.text, m.created_at, m.tags) for m in source.iter())
            markdown.export(source.iter(), Path(tmp) / "out")
        with memento.open(Path(tmp) / "back.db", tier="minimal") as back:
            openclaw.import_workspace(back, Path(tmp) / "out")
            got = sorted((m.text, m.created_at, tuple(t for t in m.tags if t not in ("openclaw", "daily")))
                         for m in back.iter())
    assert got == want
