"""OpenClaw import from more than one workspace, and what `--prune` may forget: every chunk is keyed
by its workspace and its path (memento/formats/provenance.py), and nothing that could not be read is
taken for deleted. Real workspaces in tmp_path, the real command line, real stores."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

import memento
from memento.cli import main
from memento.formats import openclaw

from .test_openclaw_import import write
from .unprivileged import memento_cli


def workspace(root: Path, who: str) -> Path:
    """A workspace whose file names another agent's workspace has too, and one file of its own."""
    write(root / "MEMORY.md", f"{who} prefers green tea.\n")
    write(root / "memory" / "2026-03-14.md", f"{who} met Bob at the conference.\n")
    write(root / "memory" / f"{who.lower()}-notes.md", f"{who} keeps notes on kiwis.\n")
    return root


def texts(db: Path):
    with memento.open(db, tier="minimal") as mem:
        return sorted(m.text for m in mem.iter())


def run(capsys, *argv):
    """The command line, keyword-only (no model to load)."""
    code = main([str(a) for a in argv] + ["--tier", "minimal"])
    out, err = capsys.readouterr()
    return code, out, err


# -- item 1: a second workspace is another source ----------------------------------------------------

def test_a_second_workspace_replaces_and_prunes_nothing_of_the_first(capsys, tmp_path, store_path):
    alice, bob = workspace(tmp_path / "alice", "Alice"), workspace(tmp_path / "bob", "Bob")
    assert run(capsys, "import", alice, "--db", store_path)[0] == 0
    code, out, _ = run(capsys, "import", bob, "--db", store_path, "--prune", "--json")
    summary = json.loads(out)
    assert code == 0 and (summary["added"], summary["replaced"], summary["removed"]) == (3, 0, 0)
    both = sorted(f"{who} {fact}" for who in ("Alice", "Bob") for fact in (
        "prefers green tea.", "met Bob at the conference.", "keeps notes on kiwis."))
    assert texts(store_path) == both
    for root in (alice, bob):        # each rerun finds its own chunks: nothing added, nothing removed
        code, out, _ = run(capsys, "import", root, "--db", store_path, "--prune", "--json")
        again = json.loads(out)
        assert (again["added"], again["unchanged"], again["replaced"], again["removed"]) == (0, 3, 0, 0)
    assert texts(store_path) == both
    with memento.open(store_path, tier="minimal") as mem:
        origins = {(m.metadata["workspace"], m.metadata["path"]) for m in mem.iter()}
        threads = {m.thread for m in mem.iter()}
    assert (str(alice.resolve()), "MEMORY.md") in origins and (str(bob.resolve()), "MEMORY.md") in origins
    assert len(threads) == 6          # one thread per file: Alice's MEMORY.md lends Bob's no context


def legacy_import(mem, root: Path, paths) -> None:
    """What memento 0.1.0 stored for these files: keyed by path alone, the path as the thread."""
    for path in paths:
        source = openclaw.read_source(root, path)
        mem.remember_many([{
            "text": c.text, "tags": ["openclaw"] + ([source.kind] if source.kind else []),
            "created_at": source.created_at, "thread": path,
            "metadata": {"source": "openclaw", "path": path, "start_line": c.start_line,
                         "end_line": c.end_line, "sha256": c.sha256}} for c in source.chunks], dedup=False)


def test_chunks_keyed_the_old_way_are_claimed_by_their_workspace_not_duplicated(capsys, tmp_path, store_path):
    alice, bob = workspace(tmp_path / "alice", "Alice"), workspace(tmp_path / "bob", "Bob")
    with memento.open(store_path, tier="minimal") as mem:
        legacy_import(mem, alice, ["MEMORY.md", "memory/2026-03-14.md", "memory/alice-notes.md"])
        legacy_import(mem, bob, ["memory/bob-notes.md"])       # Bob's own file, imported the old way too
        before = {m.id: m.text for m in mem.iter()}
    code, out, _ = run(capsys, "import", alice, "--db", store_path, "--prune", "--json")
    summary = json.loads(out)
    assert code == 0 and (summary["added"], summary["unchanged"], summary["removed"]) == (0, 3, 0)
    with memento.open(store_path, tier="minimal") as mem:
        after = {m.id: m for m in mem.iter()}
    assert {i: m.text for i, m in after.items()} == before        # same memories, same ids: none lost
    claimed = [m for m in after.values() if m.metadata.get("workspace") == str(alice.resolve())]
    assert len(claimed) == 3 and all(m.thread.endswith(m.metadata["path"]) for m in claimed)
    bobs = [m for m in after.values() if m.metadata["path"] == "memory/bob-notes.md"]
    assert "workspace" not in bobs[0].metadata         # not Alice's file: left alone, not pruned by her import
    run(capsys, "import", bob, "--db", store_path, "--prune")      # Bob's import claims it, adds his others
    assert texts(store_path) == sorted(f"{who} {fact}" for who in ("Alice", "Bob") for fact in (
        "prefers green tea.", "met Bob at the conference.", "keeps notes on kiwis."))
    with memento.open(store_path, tier="minimal") as mem:
        assert all("workspace" in m.metadata for m in mem.iter())


# -- item 2: what could not be read is reported and kept ---------------------------------------------

def test_prune_keeps_the_chunks_of_a_memory_folder_that_cannot_be_listed(capsys, tmp_path, store_path):
    """memory/ replaced by a file: the walk cannot list it (ENOTDIR, as root too)."""
    root = workspace(tmp_path / "ws", "Alice")
    run(capsys, "import", root, "--db", store_path)
    shutil.move(root / "memory", tmp_path / "memory-moved-away")
    write(root / "memory", "a file where the folder was\n")
    code, out, err = run(capsys, "import", root, "--db", store_path, "--prune", "--json")
    summary = json.loads(out)
    assert code == 0 and summary["removed"] == 0
    assert [s["path"] for s in summary["skipped"]] == ["memory"]
    assert "cannot read folder" in summary["skipped"][0]["reason"] and "skipped memory:" in err
    assert len(texts(store_path)) == 3


def test_prune_keeps_the_chunks_of_a_sub_folder_replaced_by_a_symlink(capsys, tmp_path, store_path):
    root = workspace(tmp_path / "ws", "Alice")
    write(root / "memory" / "projects" / "atlas.md", "The Atlas deadline is June 1.\n")
    run(capsys, "import", root, "--db", store_path)
    shutil.move(root / "memory" / "projects", tmp_path / "projects")
    os.symlink(tmp_path / "projects", root / "memory" / "projects")
    code, out, _ = run(capsys, "import", root, "--db", store_path, "--prune", "--json")
    assert code == 0 and json.loads(out)["removed"] == 0
    assert "The Atlas deadline is June 1." in texts(store_path)


def test_prune_keeps_the_chunks_of_an_unreadable_sub_folder(tmp_path, store_path):
    """chmod 0 on a sub-folder; the import runs where the bits bind (see tests/unprivileged.py)."""
    root = workspace(tmp_path / "ws", "Alice")
    write(root / "memory" / "projects" / "atlas.md", "The Atlas deadline is June 1.\n")
    assert main(["import", str(root), "--db", str(store_path), "--tier", "minimal"]) == 0
    (root / "memory" / "projects").chmod(0)
    try:
        done = memento_cli("import", root, "--db", store_path, "--tier", "minimal", "--prune", "--json")
        strict = memento_cli("import", root, "--db", store_path, "--tier", "minimal", "--strict")
    finally:
        (root / "memory" / "projects").chmod(0o700)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["removed"] == 0 and summary["skipped"] == [
        {"path": "memory/projects", "reason": "cannot read folder: Permission denied"}]
    assert "skipped memory/projects: cannot read folder" in done.stderr
    assert "The Atlas deadline is June 1." in texts(store_path)
    assert strict.returncode == 1 and "memory/projects: cannot read folder" in strict.stderr


# -- item 16: an unreadable workspace is an error, not a traceback ---------------------------------

@pytest.mark.parametrize("how", [["--format", "openclaw"], []])
def test_an_unreadable_workspace_is_a_clear_error(tmp_path, store_path, how):
    root = workspace(tmp_path / "ws", "Alice")
    root.chmod(0)
    try:
        done = memento_cli("import", root, *how, "--db", store_path, "--tier", "minimal")
    finally:
        root.chmod(0o700)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith("memento: error: cannot read the workspace") and "Permission denied" in done.stderr


# -- item 17 and the counts: what people read -----------------------------------------------------

def test_a_skipped_file_name_reaches_the_terminal_escaped(capsys, tmp_path, store_path):
    root = workspace(tmp_path / "ws", "Alice")
    os.symlink(root / "MEMORY.md", root / "memory" / "\x1b[2J\x1b]0;pwned\x07.md")
    code, _, err = run(capsys, "import", root, "--db", store_path)
    assert code == 0 and "\\x1b[2J\\x1b]0;pwned\\x07.md: symlink (not followed)" in err
    assert not any(c in err for c in "\x1b\x07")


def test_one_file_and_one_chunk_are_counted_in_the_singular(capsys, tmp_path, store_path):
    write(tmp_path / "ws" / "MEMORY.md", "One fact.\n")
    code, out, _ = run(capsys, "import", tmp_path / "ws", "--db", store_path)
    assert code == 0 and out.startswith("1 file: 1 chunk added, 0 unchanged")
