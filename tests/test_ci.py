"""The CI scripts install what they run: a fresh machine has nothing but python3 and pip."""
from __future__ import annotations

import configparser
import re

import pytest

from .conftest import REPO

SCRIPTS = [REPO / ".ci" / "run", REPO / "bench" / "pi.sh"]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_every_python_module_a_ci_script_runs_is_installed_first(script):
    """Issue 11.13: `MEMENTO_PI_LANE=1 bash .ci/run` failed on a fresh machine: bench/pi.sh ran
    `python3 -m build` on the host, and nothing had installed build. A module run by a host command
    (a line that starts with `python3 -m`) must be pip-installed on an earlier line of the script or
    of .ci/run, which runs first (a venv's python3 counts: what it runs is installed into it)."""
    if not script.is_file():
        pytest.skip(f"{script} is not in this copy of the tests (e.g. the Pi lane's stage)")
    ci_run = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    prelude = "" if script.name == "run" else ci_run[:ci_run.index("bench/pi.sh")]
    lines = script.read_text(encoding="utf-8").splitlines()
    # Host commands only: `run ...` / `py_in ...` lines execute inside the emulated Pi's own venvs.
    used = [(i, m.group(1)) for i, line in enumerate(lines) if not line.lstrip().startswith(("run ", "py_in "))
            for m in re.finditer(r"python3\"? -m (?!pip\b|venv\b)([\w.]+)", line)]   # "$VENV/bin/python3" too
    assert used, f"{script.name}: expected host `python3 -m` commands to check"
    for i, module in used:
        before = prelude + "\n".join(lines[:i + 1])
        installs = re.findall(r"pip install\b[^\n]*", before)
        assert any(re.search(rf"\b{re.escape(module)}\b", line) for line in installs), \
            f"{script.name} line {i + 1} runs `python3 -m {module}` but nothing installs {module} before it"


def bench_modules_imported_by(text: str) -> set:
    """`from bench import a, b as c` / `from bench.a import x` / `import bench.a` -> {"a", "b"}."""
    names = set()
    for m in re.finditer(r"^\s*from bench import ([\w ,]+)$", text, re.M):
        names.update(part.split()[0] for part in m.group(1).split(",") if part.strip())
    names.update(re.findall(r"^\s*(?:from|import) bench\.(\w+)", text, re.M))
    return names


def test_the_pi_lane_stages_every_bench_module_the_tests_import():
    """The Pi lane runs the tests from a stage holding the tests and only the bench modules pi.sh
    copies: tests/test_locomo_choice.py's `from bench import locomo_sweep` failed to import there
    (1 error in the lane) while it passed from the repo. Every bench module a test or a staged bench
    module imports must be on pi.sh's copy line."""
    pi_sh = REPO / "bench" / "pi.sh"
    if not pi_sh.is_file():
        pytest.skip(f"{pi_sh} is not in this copy of the tests (e.g. the Pi lane's stage)")
    copied = re.findall(r'^cp "\$REPO"/bench/\{([\w,]+)\}\.py "\$STAGE/bench/"$',
                        pi_sh.read_text(encoding="utf-8"), re.M)
    assert len(copied) == 1, "pi.sh: expected one `cp \"$REPO\"/bench/{...}.py \"$STAGE/bench/\"` line"
    staged = set(copied[0].split(","))
    needed = set()
    for test in sorted((REPO / "tests").glob("*.py")):
        needed |= bench_modules_imported_by(test.read_text(encoding="utf-8"))
    needed |= {"pi_measure"}  # pi.sh runs bench/pi_measure.py inside the stage
    todo = sorted(needed)
    while todo:  # and what the staged bench modules import in turn
        module = todo.pop()
        for name in bench_modules_imported_by((REPO / "bench" / f"{module}.py").read_text(encoding="utf-8")) - needed:
            needed.add(name)
            todo.append(name)
    assert "locomo_sweep" in needed and "corpus" in needed  # the parser sees both import forms
    assert needed <= staged, f"pi.sh does not stage bench modules {sorted(needed - staged)}"


def test_ci_requires_sshd_where_the_readme_command_may_skip_it():
    """Issue 21: the README's test command failed on a machine without sshd. The SFTP tests skip
    without it unless $MEMENTO_REQUIRE_SSHD is set: .ci/run sets it (after installing openssh-server)
    before the test command, and tox's `replicate` env passes it through to pytest; nothing sets it
    for a user."""
    if not (REPO / ".ci" / "run").is_file():
        pytest.skip(f"{REPO / '.ci' / 'run'} is not in this copy of the tests (e.g. the Pi lane's stage)")
    ci_run = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    exported = re.search(r"^export [^\n]*\bMEMENTO_REQUIRE_SSHD=1\b", ci_run, re.M)
    assert exported and exported.start() < ci_run.index("python3 -m tox"), \
        ".ci/run must export MEMENTO_REQUIRE_SSHD=1 before the test command"
    tox = configparser.ConfigParser(interpolation=None)
    tox.read(REPO / "tox.ini", encoding="utf-8")
    passed = tox["testenv:replicate"].get("pass_env", "")
    assert "MEMENTO_REQUIRE_SSHD" in re.split(r"[\s,]+", passed), "tox env replicate must pass MEMENTO_REQUIRE_SSHD"
    assert "MEMENTO_REQUIRE_SSHD" not in tox["testenv:replicate"].get("set_env", ""), \
        "tox must not require sshd itself: the README's command runs it on machines without sshd"


def test_the_pi_lane_makes_the_native_python_it_needs_and_runs_what_it_installs():
    """Issue 21: `ARM64=DIR bash bench/pi.sh` failed on a fresh clone twice: the native store build ran
    the host's python3, which has no apsw/psutil (nothing installed them; Debian's python3 refuses pip
    installs anyway), and by default it ran the light and tiny tiers, whose extras were not installed.
    The lane makes its own venv, installs the wheel with the extras of the tiers it runs, runs every
    native memento command from there, and by default runs only the tiers a Pi Zero 2 W runs (pocket, detected,
    and minimal, keyword-only)."""
    pi_sh = REPO / "bench" / "pi.sh"
    if not pi_sh.is_file():
        pytest.skip(f"{pi_sh} is not in this copy of the tests (e.g. the Pi lane's stage)")
    lines = pi_sh.read_text(encoding="utf-8").splitlines()
    host = [line.strip() for line in lines if not line.lstrip().startswith(("run ", "py_in ", "#"))]
    venv = [re.search(r'python3 -m venv "?\$(\w+)"?', line) for line in host]
    made = {m.group(1) for m in venv if m}
    assert made, "pi.sh must create the venv its native commands run in (python3 -m venv)"
    venv_python = re.compile(r'^(?:[A-Z_]+=\S+ )*"\$(' + "|".join(made) + r')/bin/python3?"')
    native = [line for line in host if re.search(r"pi_measure\.py\"? (build-store|rss)\b", line)]
    assert native, "expected the native store build and RSS reference in pi.sh"
    assert all(venv_python.search(line) for line in native), \
        f"native memento commands must run the lane's own venv python: {native}"
    installs = [line for line in host if venv_python.search(line) and "-m pip install" in line]
    assert any(re.search(r"\.whl\[\$\w+\]", line) or "[$" in line for line in installs), \
        f"the venv must get the wheel with the extras of the tiers the lane runs: {installs}"
    default = re.findall(r"TIERS=\$\{PI_TIERS:-([^}]*)\}", "\n".join(host))
    assert len(default) == 1 and set(default[0].split()) == {"pocket", "minimal"}, \
        f"by default the lane runs the small tiers, pocket and minimal (vector tiers through PI_TIERS): {default}"
