"""The built wheel carries sql/ and works when installed (not editable) into a fresh venv."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
import zipfile

import pytest

from .conftest import REPO

pytestmark = [pytest.mark.slow, pytest.mark.spawns_python]


def test_wheel_installs_and_works(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(REPO)],
                   check=True, capture_output=True, timeout=600)
    (wheel,) = dist.glob("memento_openclaw-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "memento/sql/migrations/001_core.sql" in names
    assert "memento/sql/queries/recall_keyword.sql" in names
    assert "memento/sql/queries/recall_pocket.sql" in names and "memento/sql/pocket/create_pocket.sql" in names
    assert "memento/pocket/static-minilm-l6.sqlite" in names    # the pocket tier's table, inside the package

    env = tmp_path / "venv"
    venv.create(env, with_pip=True)
    # The installed wheel alone: a PYTHONPATH pointing at a checkout would import that instead.
    plain = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    python = env / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", f"{wheel}[minimal,pocket]"],
                   check=True, capture_output=True, timeout=600)
    code = f"""
import memento, sys
assert memento.__file__.startswith({str(env)!r}), memento.__file__
with memento.open({str(tmp_path / 'w.db')!r}, tier="minimal") as mem:
    m = mem.remember("installed from the wheel", tags=["dist"])
    hits = mem.recall("wheel installed", tags=["dist"])
assert [h.id for h in hits] == [m.id], hits
with memento.open({str(tmp_path / 'p.db')!r}, tier="pocket") as mem:
    tea = mem.remember("Alice loves green tea")
    mem.remember("Alice loves long hikes")
    assert [h.id for h in mem.recall("Alice beverage")][0] == tea.id
    assert mem.stats().pending_embeddings == 0 and all(c.ok for c in mem.doctor())
print("ok")
"""
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120,
                         env=plain)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
    script = env / "bin" / "memento"
    out = subprocess.run([str(script), "recall", "wheel", "--db", str(tmp_path / "w.db"), "--json"],
                         capture_output=True, text=True, timeout=120, env=plain)
    assert out.returncode == 0 and "installed from the wheel" in out.stdout, out.stderr
    # `memento mcp` from the installed console script: the handshake, a tool call, exit 0 at EOF.
    lines = ('{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18"}}\n'
             '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"recall","arguments":{"query":"wheel"}}}\n')
    out = subprocess.run([str(script), "mcp", "--db", str(tmp_path / "w.db")], input=lines,
                         capture_output=True, text=True, timeout=120, env=plain)
    assert out.returncode == 0, out.stderr
    init, recall = [json.loads(line) for line in out.stdout.splitlines()]
    assert init["result"]["serverInfo"]["name"] == "memento"
    assert recall["result"]["structuredContent"]["results"][0]["text"] == "installed from the wheel"
