"""`memento import` of an OpenClaw workspace through the command line (auto-detection, --json,
the default workspace) and the promise that nothing outside the store is written."""
from __future__ import annotations

import json

from memento.cli import main

from .test_openclaw_import import workspace, write  # noqa: F401 - workspace is a fixture


def test_nothing_outside_the_store_is_written(tmp_path, workspace, store_path):
    def snapshot():
        return {p: (p.stat().st_mtime_ns, p.read_bytes() if p.is_file() and not p.is_symlink() else None)
                for p in sorted(tmp_path.rglob("*")) if "store" not in p.relative_to(tmp_path).parts[:1]}
    before = snapshot()
    assert main(["import", str(workspace), "--db", str(store_path), "--tier", "minimal", "--prune"]) == 0
    assert snapshot() == before
    assert sorted(p.name for p in store_path.parent.iterdir())[0] == "memento.db"


def test_cli_auto_detects_a_workspace_and_reports_json(capsys, workspace, store_path):
    code = main(["import", str(workspace), "--db", str(store_path), "--json"])
    out, err = capsys.readouterr()
    assert code == 0
    summary = json.loads(out)
    assert summary["added"] > 0 and summary["files"] == 5
    assert {s["path"] for s in summary["skipped"]} == {"memory/broken.md", "memory/linked.md", "memory/linked-dir"}
    assert "skipped memory/broken.md: not UTF-8" in err and "openclaw import [" in err


def test_cli_default_workspace_is_under_home(capsys, tmp_path, monkeypatch, store_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    write(tmp_path / "home" / ".openclaw" / "workspace" / "MEMORY.md", "The default workspace was found.\n")
    assert main(["import", "--format", "openclaw", "--db", str(store_path), "--json"]) == 0
    assert json.loads(capsys.readouterr()[0])["added"] == 1
