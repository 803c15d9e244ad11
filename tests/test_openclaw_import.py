"""OpenClaw memory in (`memento import --format openclaw`), on workspaces the tests write: real files,
a real store. (Markdown out is in test_markdown_export.py.)"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

import memento
from memento.formats import openclaw, provenance

LONG_TERM = """\
# About the user

Alice prefers green tea over coffee.
She works on project Atlas.

## Decisions

- Use SQLite for storage, not Postgres.
- Ship on Fridays only after the tests pass.
"""

DAILY = """\
# 2026-03-14

Met Bob at the conference; he is allergic to peanuts.

<!-- openclaw:dreaming:light:start -->
DREAM NOISE that OpenClaw manages itself
<!-- openclaw:dreaming:light:end -->

- Booked the flight to Lisbon.
"""


def write(path: Path, text, newline="\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", newline=newline)
    return path


@pytest.fixture
def workspace(tmp_path) -> Path:
    root = tmp_path / "workspace"
    write(root / "MEMORY.md", LONG_TERM)
    write(root / "memory" / "2026-03-14.md", DAILY)
    write(root / "memory" / "2026-03-15-evening.md", "Windows note\r\nwith CRLF line ends\r\n", newline="")
    write(root / "memory" / "projects" / "atlas.md", "# Atlas\n\nThe Atlas deadline is June 1.\n")
    write(root / "memory" / "empty.md", "")
    write(root / "memory" / "broken.md", b"valid start \xff\xfe not UTF-8\n")
    write(root / "memory" / "notes.txt", "not Markdown: not indexed\n")
    outside = write(tmp_path / "outside" / "secret.md", "OUTSIDE the workspace: must not be read\n")
    os.symlink(outside, root / "memory" / "linked.md")
    os.symlink(outside.parent, root / "memory" / "linked-dir")
    return root


def texts(mem, path=None):
    return sorted(m.text for m in mem.iter(tags=["openclaw"]) if path is None or m.metadata["path"] == path)


def by_path(mem):
    out = {}
    for m in mem.iter(tags=["openclaw"]):
        out.setdefault(m.metadata["path"], []).append(m)
    return out


def test_workspace_import(mem, workspace):
    summary = openclaw.import_workspace(mem, workspace)
    files = by_path(mem)
    assert set(files) == {"MEMORY.md", "memory/2026-03-14.md", "memory/2026-03-15-evening.md",
                          "memory/projects/atlas.md"}
    assert {s.path: s.reason for s in summary.skipped} == {
        "memory/broken.md": "not UTF-8 text (byte 0xff at offset 12)",
        "memory/linked.md": "symlink (not followed)", "memory/linked-dir": "symlink (not followed)"}
    assert summary.files == 5 and summary.added == mem.count() and summary.unchanged == 0  # empty.md: 0 chunks

    long_term = files["MEMORY.md"]
    assert all(set(m.tags) == {"openclaw", "long-term"} for m in long_term)
    joined = "\n".join(m.text for m in long_term)
    assert "Alice prefers green tea over coffee." in joined and "Use SQLite for storage" in joined
    # A heading starts a chunk: "## Decisions" is not glued to the previous section.
    assert any(m.text.startswith("## Decisions") for m in long_term)
    decisions = next(m for m in long_term if m.text.startswith("## Decisions"))
    assert (decisions.metadata["start_line"], decisions.metadata["end_line"]) == (6, 9)
    assert decisions.metadata["sha256"] and decisions.metadata["source"] == "openclaw"

    daily = files["memory/2026-03-14.md"]
    assert all(set(m.tags) == {"openclaw", "daily"} and m.created_at == "2026-03-14T00:00:00.000Z" for m in daily)
    daily_text = "".join(m.text for m in daily)
    assert "DREAM NOISE" not in daily_text and "openclaw:dreaming" not in daily_text
    assert "Booked the flight to Lisbon." in "".join(m.text for m in daily)

    crlf = files["memory/2026-03-15-evening.md"]
    assert [m.text for m in crlf] == ["Windows note\nwith CRLF line ends"]
    assert crlf[0].created_at.startswith("2026-03-15")

    atlas = files["memory/projects/atlas.md"]
    assert all(set(m.tags) == {"openclaw"} for m in atlas)   # neither long-term nor daily
    mtime = (workspace / "memory" / "projects" / "atlas.md").stat().st_mtime
    assert atlas[0].created_at[:16] == openclaw._utc(mtime)[:16]
    assert "OUTSIDE" not in "".join(m.text for m in mem.iter())
    assert mem.recall("peanuts allergy")[0].metadata["path"] == "memory/2026-03-14.md"


def test_rerun_adds_nothing(mem, workspace):
    openclaw.import_workspace(mem, workspace)
    before = [(m.id, m.text, m.updated_at) for m in mem.iter()]
    again = openclaw.import_workspace(mem, workspace)
    assert (again.added, again.replaced, again.removed) == (0, 0, 0) and again.unchanged == len(before)
    assert [(m.id, m.text, m.updated_at) for m in mem.iter()] == before


def test_an_edited_file_replaces_only_its_own_chunks(mem, workspace):
    openclaw.import_workspace(mem, workspace)
    others = {m.id: m.text for m in mem.iter() if m.metadata["path"] != "MEMORY.md"}
    write(workspace / "MEMORY.md", "# About the user\n\nAlice now drinks matcha.\n")   # shorter, changed
    summary = openclaw.import_workspace(mem, workspace)
    assert texts(mem, "MEMORY.md") == ["# About the user\n\nAlice now drinks matcha."]
    assert summary.added == 1 and summary.replaced == 2
    assert {m.id: m.text for m in mem.iter() if m.metadata["path"] != "MEMORY.md"} == others


def test_a_deleted_file_goes_only_with_prune(mem, workspace):
    openclaw.import_workspace(mem, workspace)
    (workspace / "memory" / "projects" / "atlas.md").unlink()
    (workspace / "memory" / "broken.md").write_bytes(b"\xff still broken\n")
    kept = openclaw.import_workspace(mem, workspace)
    assert kept.removed == 0 and texts(mem, "memory/projects/atlas.md")
    pruned = openclaw.import_workspace(mem, workspace, prune=True)
    assert pruned.removed == 1 and texts(mem, "memory/projects/atlas.md") == []
    assert texts(mem, "MEMORY.md")          # files still there keep their chunks


def test_strict_aborts_with_nothing_imported(mem, workspace):
    with pytest.raises(memento.InvalidInputError, match="broken.md: not UTF-8.*nothing was imported"):
        openclaw.import_workspace(mem, workspace, strict=True)
    assert mem.count() == 0


def test_a_run_killed_between_adding_and_forgetting_is_repaired_by_the_next(mem, workspace):
    openclaw.import_workspace(mem, workspace)
    write(workspace / "MEMORY.md", "Alice now drinks matcha.\n")
    # What a run killed after the file's new chunks committed, before its old ones were forgotten, leaves:
    source = openclaw.read_source(workspace, "MEMORY.md")
    mem.remember_many([openclaw._item(source, chunk, provenance.identity(workspace)) for chunk in source.chunks])
    assert len(texts(mem, "MEMORY.md")) == 3
    summary = openclaw.import_workspace(mem, workspace)
    assert texts(mem, "MEMORY.md") == ["Alice now drinks matcha."]
    assert (summary.added, summary.replaced) == (0, 2)
