"""`memento mcp` embeds memories stored with embed="later" while no request is waiting (issue 24):
a real server process, its idle batches watched through a wrapper on Memento.backfill."""
from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

import memento
from memento.mcp import server as mcp_server

from .conftest import require_tier
from .mcp_process import REPO, McpProcess

pytestmark = pytest.mark.spawns_python

FACT = "Caroline adopted a grey kitten from the shelter and named it Pepper"


def _watched(tmp_path: Path) -> tuple:
    """A PYTHONPATH whose sitecustomize logs each Memento.backfill call of the server to a file."""
    site, log = tmp_path / "site", tmp_path / "backfill.log"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import json, memento.store as s\n"
        "_real = s.Memento.backfill\n"
        "def backfill(self, **kw):\n"
        "    done = _real(self, **kw)\n"
        f"    with open({str(log)!r}, 'a') as f:\n"
        "        f.write(json.dumps({'limit': kw.get('limit'), 'done': done}) + '\\n')\n"
        "    return done\n"
        "s.Memento.backfill = backfill\n")
    return f"{site}:{REPO}", log


def _calls(log: Path) -> list:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def _store_later(store_path: Path, texts: list) -> None:
    with memento.open(store_path, tier="full") as mem:
        for text in texts:
            mem.remember(text, embed="later")
        assert mem.stats().pending_embeddings >= len(texts)


def _pending(proc: McpProcess) -> int:
    return proc.call("stats")["structuredContent"]["pending_embeddings"]


def _wait_while_idle(proc: McpProcess, until, timeout: float = 240) -> int:
    """Polls stats slower than the idle delay (a request resets it) until `until(pending)`."""
    deadline = time.monotonic() + timeout
    while True:
        time.sleep(mcp_server.IDLE_SECONDS + 1.5)
        pending = _pending(proc)
        if until(pending) or time.monotonic() > deadline:
            return pending


@pytest.mark.vector
def test_full_tier_server_embeds_later_memories_while_idle(store_path, tmp_path):
    require_tier("full")
    fillers = [f"Note {i}: the budget review for project {i} moved to room {100 + i}" for i in range(40)]
    _store_later(store_path, fillers + [FACT])
    pythonpath, log = _watched(tmp_path)
    proc = McpProcess(store_path, tier="full", PYTHONPATH=pythonpath)
    try:
        proc.initialize()
        proc.request("tools/list")
        time.sleep(mcp_server.IDLE_SECONDS + 1)
        assert _calls(log) == []                       # idle, but no tool call has opened the store yet
        assert _pending(proc) == 41
        assert _wait_while_idle(proc, lambda p: p == 0) == 0
        calls = _calls(log)
        assert calls and all(c["limit"] == mcp_server.IDLE_BATCH for c in calls)
        assert sum(c["done"] for c in calls) == 41
        hits = proc.call("recall", {"query": "which pet did Caroline get?", "mode": "vector", "k": 3})
        assert hits["structuredContent"]["results"][0]["text"] == FACT
        assert "while idle" in _stderr_after_close(proc)
    finally:
        proc.kill()
    with memento.open(store_path, tier="full") as mem:
        assert mem.stats().pending_embeddings == 0 and all(c.ok for c in mem.doctor())


@pytest.mark.vector
def test_requests_are_answered_and_signals_obeyed_during_idle_backfill(store_path, tmp_path):
    require_tier("full")
    n = 3000   # ~8 s of embedding at full speed: the signal lands while batches remain, on a fast machine too
    _store_later(store_path, [f"Entry {i}: the sensor in greenhouse {i % 7} read {i} units at dawn"
                              for i in range(n)])
    proc = McpProcess(store_path, tier="full")
    try:
        proc.initialize()
        assert _pending(proc) == n
        pending = _wait_while_idle(proc, lambda p: p < n)
        assert 0 < pending < n, "the idle backfill did not start, or finished too fast to test anything"
        started = time.monotonic()
        assert proc.request("ping")["result"] == {}      # read after at most the batch under way
        assert time.monotonic() - started < 30
        time.sleep(mcp_server.IDLE_SECONDS + 0.5)        # idle again: batches run
        proc.proc.send_signal(signal.SIGTERM)
        assert proc.proc.wait(60) == 0                   # stops between batches
    finally:
        proc.kill()
    assert not Path(str(store_path) + "-wal").exists()
    with memento.open(store_path, tier="full") as mem:
        assert 0 < mem.stats().pending_embeddings < n
        assert all(c.ok for c in mem.doctor())


@pytest.mark.vector
def test_idle_backfill_can_be_switched_off(store_path, tmp_path):
    require_tier("full")
    _store_later(store_path, [FACT])
    pythonpath, log = _watched(tmp_path)
    proc = McpProcess(store_path, tier="full", PYTHONPATH=pythonpath, **{mcp_server.IDLE_BACKFILL_ENV: "0"})
    try:
        proc.initialize()
        assert _pending(proc) == 1
        assert _wait_while_idle(proc, lambda p: True) == 1
        assert _calls(log) == []
        assert proc.close_stdin_and_wait() == 0
    finally:
        proc.kill()


def test_minimal_tier_server_never_backfills(store_path, tmp_path):
    pythonpath, log = _watched(tmp_path)
    proc = McpProcess(store_path, tier="minimal", PYTHONPATH=pythonpath)
    try:
        proc.initialize()
        proc.call("remember", {"text": FACT})
        time.sleep(mcp_server.IDLE_SECONDS + 1.5)
        assert proc.call("stats")["structuredContent"]["pending_embeddings"] == 0
        assert proc.close_stdin_and_wait() == 0
        assert _calls(log) == []
    finally:
        proc.kill()


class _FlakyStore:
    """What idle_work needs of a store: a model name and backfill(), failing as told."""
    model = "some-model"

    def __init__(self, outcomes):
        self.outcomes, self.calls = list(outcomes), []

    def backfill(self, **kw):
        self.calls.append(kw)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def test_a_failed_batch_is_tried_again_and_repeated_failures_end_it(capsys):
    from memento.errors import MementoError
    server = mcp_server.Server()
    server.store = _FlakyStore([MementoError("database is locked"), 16, 3, 0])
    assert server.wants_idle_work()
    assert server.idle_work() == mcp_server.IDLE_RECHECK_SECONDS        # locked: later
    assert server.wants_idle_work()
    assert [server.idle_work() for _ in range(3)] == [0.0, 0.0, mcp_server.IDLE_RECHECK_SECONDS]
    assert server.store.calls[0] == {"batch_size": mcp_server.IDLE_BATCH, "limit": mcp_server.IDLE_BATCH}
    err = capsys.readouterr().err
    assert "trying again" in err and "embedded 19 memories" in err
    server.store = _FlakyStore([RuntimeError("model files gone")] * mcp_server.IDLE_FAILURES)
    for _ in range(mcp_server.IDLE_FAILURES):
        server.idle_work()
    assert not server.wants_idle_work() and "stopped for this session" in capsys.readouterr().err
    server.store = None


def _stderr_after_close(proc: McpProcess) -> str:
    assert proc.close_stdin_and_wait() == 0
    return proc.stderr()
