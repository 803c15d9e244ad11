"""Shared fixtures: every test opens real SQLite files in its own tmp dir."""
from __future__ import annotations

import math
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import memento

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    """No test may touch the user's real store or inherit a tier from the environment."""
    monkeypatch.delenv("MEMENTO_TIER", raising=False)
    monkeypatch.setenv("MEMENTO_DB", str(tmp_path / "default" / "memento.db"))


@pytest.fixture
def store_path(tmp_path) -> Path:
    return tmp_path / "store" / "memento.db"


@pytest.fixture
def mem(store_path):
    with memento.open(store_path, tier="minimal") as m:
        yield m


def run_python(code: str, **env) -> subprocess.CompletedProcess:
    """Run code in a fresh interpreter (for import-weight and cross-process checks)."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **env}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full_env, timeout=300)


def sqlite3_shell() -> str:
    path = shutil.which("sqlite3")
    if path is None:
        pytest.skip("the sqlite3 shell is not installed (apt-get install sqlite3)")
    return path


# SQLite's C code, compiled for aarch64, may round a multiply-add once (a fused multiply-add, which
# GCC makes by default there) where Python, or another inlined copy of the same C, rounds twice: bm25
# scores computed two ways then differ in the last bit or two (seen in the emulated Pi lane). On
# x86_64 they are the same double, and tests hold them to that.
EXACT_FLOATS = platform.machine().lower() in ("x86_64", "amd64")


def same_score(a: float, b: float) -> bool:
    """a == b on x86_64; elsewhere within 2 ulps (EXACT_FLOATS)."""
    return a == b if EXACT_FLOATS else abs(a - b) <= 2 * math.ulp(max(abs(a), abs(b)))


def same_scores(got, expected) -> bool:
    """Two {id: score} dicts, or two [(id, score)] lists: the same ids, in the same order, and
    same_score for each score."""
    pairs = (sorted(got.items()), sorted(expected.items())) if isinstance(got, dict) else (list(got), list(expected))
    return (len(pairs[0]) == len(pairs[1])
            and all(i == j and same_score(a, b) for (i, a), (j, b) in zip(*pairs)))


VECTOR_TIERS = ("full", "light", "tiny")


@pytest.fixture(scope="session", autouse=True)
def _model_cache(tmp_path_factory):
    """Models are assembled once per test session into a private cache (never the user's)."""
    if "MEMENTO_CACHE_DIR" not in os.environ:
        os.environ["MEMENTO_CACHE_DIR"] = str(tmp_path_factory.mktemp("model-cache"))
    yield


def require_tier(tier: str) -> None:
    """Skip when the tier's packages are missing, unless this test env promises that tier
    ($MEMENTO_REQUIRE_TIERS, set by tox): then a missing package is a failure, not a skip."""
    from memento import tiers
    missing = tiers.missing_packages(tier)
    if missing:
        required = os.environ.get("MEMENTO_REQUIRE_TIERS", "").split(",")
        message = f"tier {tier!r} not installed (missing {', '.join(missing)})"
        if tier in required:
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(params=VECTOR_TIERS)
def vector_tier(request) -> str:
    require_tier(request.param)
    return request.param


@pytest.fixture
def vmem(store_path, vector_tier):
    with memento.open(store_path, tier=vector_tier) as m:
        yield m
