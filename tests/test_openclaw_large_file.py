"""OpenClaw import of a 1 MB Markdown file (its own file: one pytest process per file in the Pi lane,
and this test's working set is the largest of the OpenClaw tests)."""
from __future__ import annotations

from memento.formats import openclaw

from .test_openclaw_import import write


def paragraph(i: int) -> str:
    return f"Paragraph {i}: " + " ".join(["lorem ipsum dolor sit amet"] * 6)


def test_a_one_megabyte_file_is_chunked_at_most_1600_characters(mem, tmp_path):
    root = tmp_path / "ws"
    write(root / "memory.md", "\n\n".join(paragraph(i) for i in range(6_000))
          + "\n\n" + "x" * 5_000 + "\n")                     # and one line longer than a chunk
    assert (root / "memory.md").stat().st_size > 1_000_000
    summary = openclaw.import_workspace(mem, root)
    chunks = list(mem.iter())
    assert summary.added == len(chunks) > 600
    assert max(len(m.text) for m in chunks) <= openclaw.CHUNK_CHARS
    # Whole paragraphs stay whole; only the 5,000-character line is cut (into 4 pieces on line N).
    stored = {p for m in chunks for p in m.text.split("\n\n")}
    assert all(paragraph(i) in stored for i in range(6_000))
    cut = [m for m in chunks if m.text.startswith("x")]
    assert "".join(m.text for m in sorted(cut, key=lambda m: m.id)) == "x" * 5_000
    assert {(m.metadata["start_line"], m.metadata["end_line"]) for m in cut} == {(2 * 6_000 + 1,) * 2}
