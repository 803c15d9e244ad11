"""The files a Markdown export writes: owner-only, staged where no importer reads, leftovers of a killed
export removed, an export coming back into its own store not stored twice, text that Markdown lines
cannot hold (a carriage return) kept exactly. Real stores, real files, the real command line."""
from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import memento
from memento.cli import main

from .test_openclaw_import import write

REPO = Path(__file__).resolve().parent.parent


def run(capsys, *argv):
    """The command line, keyword-only (no model to load)."""
    code = main([str(a) for a in argv] + ["--tier", "minimal"])
    out, err = capsys.readouterr()
    return code, out, err


def count(db: Path) -> int:
    with memento.open(db, tier="minimal") as mem:
        return mem.count(include_superseded=True, include_expired=True)


def everything_under(folder: Path):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


# -- item 14: owner-only files and folders --------------------------------------------------------

def test_an_export_is_owner_only(tmp_path, capsys):
    db = tmp_path / "s.db"
    with memento.open(db, tier="minimal") as mem:
        mem.remember("a private fact", created_at="2026-03-14T10:00:00Z")
    out = tmp_path / "new" / "export"
    old = os.umask(0o022)
    try:
        assert run(capsys, "export", "--format", "markdown", "--out", out, "--db", db)[0] == 0
    finally:
        os.umask(old)
    for folder in (tmp_path / "new", out, out / "memory"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    assert stat.S_IMODE((out / "memory" / "2026-03-14.md").stat().st_mode) == 0o600


# -- item 16: --out naming a file -----------------------------------------------------------------

def test_export_into_a_file_is_a_clear_error(tmp_path, capsys):
    db, target = tmp_path / "s.db", write(tmp_path / "a-file", "not a folder\n")
    with memento.open(db, tier="minimal") as mem:
        mem.remember("a fact")
    code, out, err = run(capsys, "export", "--format", "markdown", "--out", target, "--db", db)
    assert code == 1 and "Traceback" not in err
    assert err.startswith("memento: error: ") and "not a folder" in err and str(target) in err
    assert target.read_text() == "not a folder\n"


# -- item 3: a killed export leaves nothing an importer reads -------------------------------------

KILLED_EXPORT = """
import sys, time
from pathlib import Path
import memento
from memento.formats import markdown
db, out, marker = sys.argv[1:]
with memento.open(db, tier="minimal") as mem:
    def memories():
        for i, memory in enumerate(mem.iter()):
            if i == 200:                       # half of them written: say so, then wait to be killed
                Path(marker).write_text("half")
                time.sleep(600)
            yield memory
    markdown.export(memories(), Path(out))
"""


def test_a_killed_export_leaves_nothing_an_import_reads_and_the_next_export_cleans_up(tmp_path, capsys):
    db, out, marker = tmp_path / "s.db", tmp_path / "out", tmp_path / "half"
    with memento.open(db, tier="minimal") as mem:
        mem.remember_many([{"text": f"fact {i}: " + "kiwi " * 40,
                            "created_at": f"2026-03-1{i % 2}T10:{i // 60:02d}:{i % 60:02d}Z"} for i in range(400)])
    child = subprocess.Popen([sys.executable, "-c", KILLED_EXPORT, str(db), str(out), str(marker)],
                             env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        deadline = time.monotonic() + 120
        while not marker.exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert marker.exists(), "the export never got half way"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert run(capsys, "import", out, "--db", tmp_path / "back.db")[0] == 0
    assert count(tmp_path / "back.db") == 0       # the half-written days are not memories

    assert run(capsys, "export", "--format", "markdown", "--out", out, "--db", db)[0] == 0
    assert everything_under(out) == ["memory", "memory/2026-03-10.md", "memory/2026-03-11.md"]
    assert run(capsys, "import", out, "--db", tmp_path / "again.db")[0] == 0
    assert count(tmp_path / "again.db") == 400


def test_staging_left_inside_memory_by_an_older_export_is_neither_imported_nor_kept(tmp_path, capsys):
    db, out = tmp_path / "s.db", tmp_path / "out"
    with memento.open(db, tier="minimal") as mem:
        mem.remember("a fact", created_at="2026-03-14T10:00:00Z")
    leftover = write(out / "memory" / ".memento-export-k1ll3d" / "2026-03-14.md",
                     "<!-- memento:export v1 -->\n# 2026-03-14\n\n"
                     "- <!-- memento:memory id=9 created_at=2026-03-14T10:00:00.000Z tags= -->\n  half a day\n")
    code, out_json, err = run(capsys, "import", out, "--db", tmp_path / "back.db", "--json")
    assert code == 0 and count(tmp_path / "back.db") == 0
    assert json.loads(out_json)["skipped"][0]["path"] == "memory/.memento-export-k1ll3d"
    # A store that read the leftover before (as earlier versions did) loses those copies with --prune.
    with memento.open(tmp_path / "read-it.db", tier="minimal") as mem:
        mem.remember("half a day", tags=["openclaw"], metadata={
            "source": "openclaw", "path": "memory/.memento-export-k1ll3d/2026-03-14.md", "start_line": 4,
            "end_line": 5, "sha256": "0" * 64})
    code, out_json, _ = run(capsys, "import", out, "--db", tmp_path / "read-it.db", "--prune", "--json")
    assert code == 0 and json.loads(out_json)["removed"] == 1 and count(tmp_path / "read-it.db") == 0
    assert run(capsys, "export", "--format", "markdown", "--out", out, "--db", db)[0] == 0
    assert not leftover.parent.exists()
    assert everything_under(out) == ["memory", "memory/2026-03-14.md"]


# -- item 15: an export read back into its own store ------------------------------------------------

def test_an_export_into_the_workspace_does_not_double_the_store(tmp_path, capsys):
    root, db = tmp_path / "workspace", tmp_path / "s.db"
    write(root / "MEMORY.md", "# About\n\nAlice prefers green tea.\n")
    assert run(capsys, "import", root, "--db", db)[0] == 0
    with memento.open(db, tier="minimal") as mem:
        for i in range(4):
            mem.remember(f"remembered fact {i}", tags=["chat"], created_at="2026-03-14T10:00:00Z")
    before = count(db)
    assert before == 5
    assert run(capsys, "export", "--format", "markdown", "--out", root, "--db", db)[0] == 0
    for _ in range(2):
        code, out, _ = run(capsys, "import", root, "--db", db, "--json")
        assert code == 0 and json.loads(out)["added"] == 0
        assert count(db) == before


# -- item 5: carriage returns -----------------------------------------------------------------------

def test_carriage_returns_survive_export_and_import(tmp_path, capsys):
    db, out = tmp_path / "s.db", tmp_path / "out"
    tricky = ["carriage\rreturn kiwi", "windows\r\nline ends\r\n", "\rfirst", "plain after them"]
    with memento.open(db, tier="minimal") as mem:
        for text in tricky:
            mem.remember(text, created_at="2026-03-14T10:00:00Z")
    assert run(capsys, "export", "--format", "markdown", "--out", out, "--db", db)[0] == 0
    assert b"\r" not in (out / "memory" / "2026-03-14.md").read_bytes()
    assert run(capsys, "import", out, "--db", tmp_path / "back.db")[0] == 0
    with memento.open(tmp_path / "back.db", tier="minimal") as mem:
        assert sorted(m.text for m in mem.iter()) == sorted(tricky)
