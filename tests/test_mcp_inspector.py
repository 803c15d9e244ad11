"""`memento mcp` driven by a client from outside Python: the MCP Inspector's CLI mode (Node.js).

npx fetches the pinned Inspector from the npm registry on first use (then from its cache). Skips,
saying why, when node/npx is missing or the package cannot be fetched (no network, no cache)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

import memento

from .mcp_process import REPO

pytestmark = [pytest.mark.slow, pytest.mark.spawns_python]

INSPECTOR = "@modelcontextprotocol/inspector@2.12.0"


@pytest.fixture(scope="module")
def npx() -> str:
    path = shutil.which("npx")
    if path is None or shutil.which("node") is None:
        pytest.skip("node/npx not installed: the MCP Inspector CLI (npm) cannot run here")
    probe = subprocess.run([path, "-y", INSPECTOR, "--cli", "--version"], capture_output=True, text=True, timeout=600)
    if probe.returncode != 0:
        tail = " | ".join(line for line in probe.stderr.splitlines()[-3:] if line.strip())
        pytest.skip(f"npx could not fetch or start {INSPECTOR} (offline without an npm cache?): {tail}")
    return path


def inspector(npx: str, db, *options: str) -> subprocess.CompletedProcess:
    command = [npx, "-y", INSPECTOR, "--cli", "-e", f"PYTHONPATH={REPO}", *options, "--",
               sys.executable, "-m", "memento", "mcp", "--db", str(db), "--tier", "minimal"]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def test_inspector_lists_and_calls_tools(npx, store_path):
    listed = inspector(npx, store_path, "--method", "tools/list", "--strict")
    assert listed.returncode == 0, listed.stderr[-2000:]
    tools = {t["name"]: t for t in json.loads(listed.stdout)["tools"]}
    assert set(tools) == {"remember", "recall", "get", "update", "forget", "list", "stats"}
    # --strict reports schema portability problems on stderr; ours has none.
    assert "Warning: tool" not in listed.stderr and "Error: tool" not in listed.stderr

    made = inspector(npx, store_path, "--method", "tools/call", "--tool-name", "remember",
                     "--tool-arg", "text=The Inspector speaks MCP from Node", 'tags=["node"]')
    assert made.returncode == 0, made.stderr[-2000:]
    memory = json.loads(made.stdout)["structuredContent"]
    assert memory["tags"] == ["node"]

    found = inspector(npx, store_path, "--method", "tools/call", "--tool-name", "recall",
                      "--tool-arg", "query=inspector node")
    assert found.returncode == 0, found.stderr[-2000:]
    assert [h["id"] for h in json.loads(found.stdout)["structuredContent"]["results"]] == [memory["id"]]

    refused = inspector(npx, store_path, "--method", "tools/call", "--tool-name", "remember",
                        "--tool-arg", "text=x", "tags=[\"not a tag\"]")
    result = json.loads(refused.stdout)
    assert result["isError"] is True and "tag" in result["content"][0]["text"]
    with memento.open(store_path, tier="minimal") as mem:
        assert [m.text for m in mem.iter()] == ["The Inspector speaks MCP from Node"]
