"""Markdown out (`memento export --format markdown`) and back in through the OpenClaw importer."""
from __future__ import annotations

import json

import memento
from memento.cli import main
from memento.formats import markdown

AWKWARD = [
    "plain",
    "two\nlines",
    "# a heading inside\n\n- a list inside\n  indented\n\n\nthree blank lines above",
    "ends with a newline\n",
    "  leading spaces and <!-- a comment --> and - dashes",
    "- <!-- memento:memory id=1 created_at=2000-01-01T00:00:00.000Z tags= -->",
    "ünïcödé ✓ 日本語",
]


def test_export_then_import_keeps_text_date_and_tags(tmp_path, capsys):
    source, target = tmp_path / "a.db", tmp_path / "b.db"
    with memento.open(source, tier="minimal") as mem:
        for i, text in enumerate(AWKWARD):
            mem.remember(text, tags=["t" + str(i % 2)], created_at=f"2026-0{1 + i % 3}-1{i}T0{i}:30:00.25Z")
        mem.remember("a memory on its own", created_at="2025-12-31T23:59:59.999Z")
        want = sorted((m.text, m.created_at, m.tags) for m in mem.iter())
    out = tmp_path / "export"
    assert main(["export", "--format", "markdown", "--out", str(out), "--db", str(source)]) == 0
    days = sorted({created[:10] + ".md" for _, created, _ in want})
    assert f"wrote 8 memories in {len(days)} files" in capsys.readouterr()[0]
    assert sorted(p.name for p in (out / "memory").iterdir()) == days
    first = (out / "memory" / "2025-12-31.md").read_text()
    assert first.startswith(markdown.EXPORT_MARK) and "- <!-- memento:memory id=8 " in first

    assert main(["import", str(out), "--db", str(target), "--tier", "minimal"]) == 0
    with memento.open(target, tier="minimal") as mem:
        got = sorted((m.text, m.created_at, tuple(t for t in m.tags if t not in ("openclaw", "daily")))
                     for m in mem.iter())
    assert got == want
    capsys.readouterr()
    assert main(["import", str(out), "--db", str(target), "--json"]) == 0     # and a rerun adds nothing
    rerun = json.loads(capsys.readouterr()[0])
    assert rerun["added"] == 0 and rerun["unchanged"] == 8


def test_export_filters_and_never_overwrites(tmp_path, capsys):
    db = tmp_path / "a.db"
    with memento.open(db, tier="minimal") as mem:
        mem.remember("old", tags=["keep"], created_at="2026-01-01T10:00:00Z")
        mem.remember("new", tags=["keep"], created_at="2026-02-01T10:00:00Z")
        mem.remember("other", created_at="2026-02-01T11:00:00Z")
    out = tmp_path / "out"
    assert main(["export", "--format", "markdown", "--out", str(out), "--db", str(db), "--tag", "keep",
                 "--since", "2026-01-15"]) == 0
    day = (out / "memory" / "2026-02-01.md").read_text()
    assert "new" in day and "other" not in day and not (out / "memory" / "2026-01-01.md").exists()
    # A second export into the same folder would overwrite 2026-02-01.md: refused, nothing changed.
    assert main(["export", "--format", "markdown", "--out", str(out), "--db", str(db)]) == 1
    assert "already holds 2026-02-01.md" in capsys.readouterr()[1]
    assert (out / "memory" / "2026-02-01.md").read_text() == day
    assert sorted(p.name for p in (out / "memory").iterdir()) == ["2026-02-01.md"]
