"""What a new user meets in the first hour, done the way they expect: options before the command,
the newest memories from `list --limit`, `remember -` reading standard input, one warning about a
missing tier (not one per command), an MCP server that says at start when its store path cannot
work, and a keyword-only store that advertises only the recall modes it has."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

import memento
from memento import tiers
from memento.cli import main
from memento.mcp import server as mcp

from .conftest import REPO


def test_options_may_come_before_the_command(store_path, capsys):
    assert main(["--db", str(store_path), "--tier", "minimal", "remember", "kiwi before the command"]) == 0
    assert main(["--json", "--db", str(store_path), "recall", "kiwi", "--tier", "minimal"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert json.loads(out[-1])["text"] == "kiwi before the command"
    assert main(["recall", "kiwi", "--db", str(store_path), "--tier", "minimal", "--json"]) == 0   # and after
    assert json.loads(capsys.readouterr().out)["text"] == "kiwi before the command"


def test_list_limit_shows_the_newest(store_path, capsys):
    with memento.open(store_path, tier="minimal") as mem:
        mem.remember_many([{"text": f"note {i}", "created_at": f"2026-01-0{i}"} for i in range(1, 6)])
    assert main(["list", "--limit", "2", "--json", "--db", str(store_path), "--tier", "minimal"]) == 0
    assert [json.loads(line)["text"] for line in capsys.readouterr().out.splitlines()] == ["note 4", "note 5"]


@pytest.mark.spawns_python
def test_remember_dash_reads_standard_input(store_path):
    done = subprocess.run([sys.executable, "-m", "memento", "remember", "-", "--db", str(store_path), "--tier",
                           "minimal"], input="a note from a pipe\n", capture_output=True, text=True,
                          cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    with memento.open(store_path, tier="minimal") as mem:
        assert [m.text for m in mem.iter()] == ["a note from a pipe"]


@pytest.mark.spawns_python
def test_a_missing_tier_is_reported_once_per_store_not_at_every_command(store_path):
    """Runs where it really happens: detection wants a vector tier this environment lacks (the
    minimal tox env on a big machine)."""
    choice = tiers.resolve(None)
    if not choice.fallback:
        pytest.skip(f"detection wants {choice.tier!r} and it is installed here: nothing to warn about")
    runs = [subprocess.run([sys.executable, "-m", "memento", "stats", "--db", str(store_path)], capture_output=True,
                           text=True, cwd=REPO, timeout=120) for _ in range(3)]
    assert all(r.returncode == 0 for r in runs), runs[0].stderr
    warned = ["not installed" in r.stderr for r in runs]
    assert warned == [True, False, False]
    with memento.open(store_path) as mem:
        assert mem.meta().tier is None   # still unrecorded: the store moves up once the tier is installed


@pytest.mark.spawns_python
@pytest.mark.parametrize("where", ["a file as its folder", "a folder as the store"])
def test_mcp_says_at_start_when_its_store_path_cannot_work(tmp_path, where):
    (tmp_path / "plain.txt").write_text("not a folder")
    (tmp_path / "folder").mkdir()
    path = tmp_path / "plain.txt" / "memento.db" if where == "a file as its folder" else tmp_path / "folder"
    done = subprocess.run([sys.executable, "-m", "memento", "mcp", "--db", str(path)], input="", capture_output=True,
                          text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0 and "no store can be opened" in done.stderr and str(path) in done.stderr


@pytest.mark.spawns_python
def test_mcp_with_a_good_path_says_nothing_of_the_kind(tmp_path):
    done = subprocess.run([sys.executable, "-m", "memento", "mcp", "--db", str(tmp_path / "new" / "m.db")],
                          input="", capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0 and "no store can be opened" not in done.stderr


def _recall_modes(server) -> list:
    reply = server.handle_line(b'{"jsonrpc":"2.0","id":2,"method":"tools/list"}')
    recall = next(t for t in reply["result"]["tools"] if t["name"] == "recall")
    return recall["inputSchema"]["properties"]["mode"]["enum"]


def test_a_keyword_only_store_advertises_only_keyword_recall(store_path):
    server = mcp.Server(str(store_path), "minimal")
    server.handle_line(b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18"}}')
    try:
        assert _recall_modes(server) == ["keyword"]
    finally:
        server.close()


def test_an_unopenable_store_advertises_every_mode_and_the_tool_call_says_why(tmp_path):
    (tmp_path / "plain.txt").write_text("x")
    server = mcp.Server(str(tmp_path / "plain.txt" / "m.db"), "minimal")
    try:
        assert _recall_modes(server) == ["hybrid", "keyword", "vector"]
        reply = server.handle_line(b'{"jsonrpc":"2.0","id":3,"method":"tools/call",'
                                   b'"params":{"name":"recall","arguments":{"query":"x"}}}')
        assert reply["result"]["isError"] is True and "plain.txt" in reply["result"]["content"][0]["text"]
    finally:
        server.close()


@pytest.mark.spawns_python
@pytest.mark.parametrize("command", [["export"], ["list"]])
def test_a_full_disk_on_stdout_is_a_clear_error_not_a_traceback(store_path, command):
    with memento.open(store_path, tier="minimal") as mem:
        mem.remember_many([f"memory number {i} " + "x" * 200 for i in range(500)])
    with open("/dev/full", "w") as full:   # every write fails with ENOSPC
        done = subprocess.run([sys.executable, "-m", "memento", *command, "--db", str(store_path), "--tier", "minimal"],
                              stdout=full, stderr=subprocess.PIPE, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 1 and "cannot write the output" in done.stderr and "Traceback" not in done.stderr
