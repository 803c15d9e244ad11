"""The CI scripts install what they run: a fresh machine has nothing but python3 and pip."""
from __future__ import annotations

import re

import pytest

from .conftest import REPO

SCRIPTS = [REPO / ".ci" / "run", REPO / "bench" / "pi.sh"]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_every_python_module_a_ci_script_runs_is_installed_first(script):
    """Issue 11.13: `MEMENTO_PI_LANE=1 bash .ci/run` failed on a fresh machine: bench/pi.sh ran
    `python3 -m build` on the host, and nothing had installed build. A module run by a host command
    (a line that starts with `python3 -m`) must be pip-installed on an earlier line of the script or
    of .ci/run, which runs first."""
    if not script.is_file():
        pytest.skip(f"{script} is not in this copy of the tests (e.g. the Pi lane's stage)")
    ci_run = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    prelude = "" if script.name == "run" else ci_run[:ci_run.index("bench/pi.sh")]
    lines = script.read_text(encoding="utf-8").splitlines()
    # Host commands only: `run ...` / `py_in ...` lines execute inside the emulated Pi's own venvs.
    used = [(i, m.group(1)) for i, line in enumerate(lines) if not line.lstrip().startswith(("run ", "py_in "))
            for m in re.finditer(r"python3 -m (?!pip\b|venv\b)([\w.]+)", line)]
    assert used, f"{script.name}: expected host `python3 -m` commands to check"
    for i, module in used:
        before = prelude + "\n".join(lines[:i + 1])
        installs = re.findall(r"pip install\b[^\n]*", before)
        assert any(re.search(rf"\b{re.escape(module)}\b", line) for line in installs), \
            f"{script.name} line {i + 1} runs `python3 -m {module}` but nothing installs {module} before it"
