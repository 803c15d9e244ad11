"""The `memento` command as a real console script, in a child interpreter. Apart from test_cli.py
(in-process through main()) so that its pytest process imports little: on the emulated Pi lane it and
its child share one 100 MB cap."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest


@pytest.mark.spawns_python
def test_console_script_runs(tmp_path):
    """The installed entry point (python -m memento.cli is what `memento` calls)."""
    env_db = str(tmp_path / "cli.db")
    subprocess.run([sys.executable, "-m", "memento.cli", "remember", "from a subprocess", "--db", env_db],
                   check=True, capture_output=True)
    out = subprocess.run([sys.executable, "-m", "memento.cli", "recall", "subprocess", "--db", env_db, "--json"],
                         check=True, capture_output=True, text=True).stdout
    assert json.loads(out.splitlines()[0])["text"] == "from a subprocess"
