"""Nothing lost: upgrades, full disks, read-only files, concurrent agents, processes killed mid-import."""
from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import apsw
import pytest

import memento
from memento import StoreError
from memento.schema import latest_version

from .conftest import REPO, require_tier

FIXTURES = Path(__file__).parent / "fixtures"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_schema_v1_store_upgrades_without_loss(tmp_path):
    """tests/fixtures/store_v1.db was written by schema version 1 (the first release's code)."""
    path = tmp_path / "v1.db"
    shutil.copy(FIXTURES / "store_v1.db", path)
    path.chmod(0o600)  # git does not keep file modes beyond the executable bit
    assert apsw.Connection(str(path)).pragma("user_version") == 1
    with memento.open(path, tier="minimal") as mem:
        assert mem.stats().schema_version == latest_version()
        got = {m.id: m for m in mem.iter()}
        assert sorted(got) == [1, 2, 4]
        assert (got[1].text, got[1].tags, got[1].metadata) == (
            "Alice switched from coffee to green tea", ("prefs", "drinks"), {"src": "chat"})
        assert got[2].pinned and got[2].created_at == "2026-02-03T04:05:06.000Z"
        assert got[4].text == "Unicode survives: café, 東京, emoji 🎉"
        assert [h.id for h in mem.recall("tea", tags=["drinks"])] == [1]
        assert mem.remember("written after the upgrade").id == 5  # ids still never reused
        assert all(c.ok for c in mem.doctor())


def test_full_disk_is_a_clear_error_and_loses_nothing(store_path):
    with memento.open(store_path, tier="minimal") as mem:
        kept = mem.remember_many([f"memory {i}" for i in range(20)])
        mem._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        before = sha(store_path)
        # emulate a full disk: the file may not grow by a single page
        mem._conn.pragma("max_page_count", mem._conn.pragma("page_count"))
        with pytest.raises(StoreError, match="full"):
            mem.remember_many([("x" * 60_000) + str(i) for i in range(20)])
        assert mem.count() == 20 and [m.id for m in mem.iter()] == [m.id for m in kept]
        assert sha(store_path) == before
    assert sha(store_path) == before
    with memento.open(store_path, tier="minimal") as mem:
        assert mem.count() == 20 and all(c.ok for c in mem.doctor())


def _immutable(path: Path, on: bool) -> bool:
    """Root ignores file modes, so a read-only file is emulated with the immutable attribute."""
    result = subprocess.run(["chattr", "+i" if on else "-i", str(path)], capture_output=True)
    return result.returncode == 0


def test_read_only_store_is_a_clear_error_and_untouched(store_path):
    with memento.open(store_path, tier="minimal") as mem:
        mem.remember("keep me")
    if os.geteuid() != 0:
        store_path.chmod(0o400)
        store_path.parent.chmod(0o500)
    elif not (_immutable(store_path, True) and _immutable(store_path.parent, True)):
        _immutable(store_path, False)
        pytest.skip("cannot make a file read-only for root here (chattr +i unsupported)")
    before = sha(store_path)
    try:
        with pytest.raises(StoreError):
            with memento.open(store_path, tier="minimal") as mem:
                mem.remember("cannot be written")
        assert sha(store_path) == before
    finally:
        if os.geteuid() == 0:
            _immutable(store_path.parent, False)
            _immutable(store_path, False)
        else:
            store_path.parent.chmod(0o700)
            store_path.chmod(0o600)


# -- concurrency -----------------------------------------------------------------------------------

WRITER = """
import sys, memento
path, who, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
with memento.open(path, tier="minimal") as mem:
    for i in range(n):
        mem.remember(f"agent {who} note {i} about project kiwi", tags=[f"agent-{who}"])
"""
READER = """
import sys, os, memento
path, stop = sys.argv[1], sys.argv[2]
recalls = 0
with memento.open(path, tier="minimal") as mem:
    while not os.path.exists(stop):
        mem.recall("project kiwi note", k=10)
        recalls += 1
print(recalls)
"""


@pytest.mark.slow
@pytest.mark.spawns_python
def test_four_writers_two_readers_no_errors(store_path, tmp_path):
    with memento.open(store_path, tier="minimal"):
        pass  # create and migrate once, as an agent's setup would
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    stop = tmp_path / "stop"
    started = time.perf_counter()
    readers = [subprocess.Popen([sys.executable, "-c", READER, str(store_path), str(stop)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(store_path), str(w), "500"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for w in range(4)]
    for w in writers:
        _, err = w.communicate(timeout=300)
        assert w.returncode == 0, err
    elapsed = time.perf_counter() - started
    stop.touch()
    recalls = 0
    for r in readers:
        out, err = r.communicate(timeout=60)
        assert r.returncode == 0, err
        recalls += int(out)
    with memento.open(store_path, tier="minimal") as mem:
        assert mem.count() == 2000
        for w in range(4):
            assert sum(1 for _ in mem.iter(tags=[f"agent-{w}"])) == 500
        assert all(c.ok for c in mem.doctor())
    print(f"\n2000 remembers by 4 processes in {elapsed:.2f}s ({2000 / elapsed:.0f}/s) "
          f"with {recalls} concurrent recalls ({recalls / elapsed:.0f}/s)")


BATCH_WRITER = """
import sys, memento
with memento.open(sys.argv[1], tier="full") as mem:
    for b in range(10):
        mem.remember_many([f"batch {b} item {i}: the fox jumped over fence {i}" for i in range(20)], embed="later")
"""
BACKFILLER = """
import sys, time, memento
done = 0
with memento.open(sys.argv[1], tier="full") as mem:
    for _ in range(200):
        done += mem.backfill(batch_size=16)
        if mem.count() == 200 and mem.stats().pending_embeddings == 0:
            break
        time.sleep(0.05)
print(done)
"""


@pytest.mark.slow
@pytest.mark.vector
@pytest.mark.spawns_python
def test_batch_writer_and_backfill_concurrently(store_path):
    require_tier("full")
    with memento.open(store_path, tier="full"):
        pass
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen([sys.executable, "-c", code, str(store_path)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for code in (BATCH_WRITER, BACKFILLER)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    with memento.open(store_path, tier="full") as mem:
        assert mem.count() == 200
        mem.backfill()
        assert mem.stats().pending_embeddings == 0
        assert all(c.ok for c in mem.doctor()), [c for c in mem.doctor() if not c.ok]
        assert mem._conn.execute("SELECT count(*) FROM memories_vec").get == 200


# -- crash safety ----------------------------------------------------------------------------------

IMPORTER = """
import sys, memento
path, start = sys.argv[1], int(sys.argv[2])
with memento.open(path, tier="minimal") as mem:
    for b in range(start, start + 10_000):
        made = mem.remember_many([{"text": f"crash batch {b} item {i} " + "lorem ipsum " * (i % 7),
                                   "tags": [f"b{b}"], "metadata": {"b": b, "i": i}} for i in range(25)])
        print(b, made[0].id, made[-1].id, flush=True)   # printed only after the commit returned
"""


@pytest.mark.slow
@pytest.mark.spawns_python
def test_sigkill_during_import_loses_nothing(store_path):
    rng = random.Random(1234)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with memento.open(store_path, tier="minimal"):
        pass
    committed = {}   # batch number -> (first id, last id), as reported by the child after commit
    next_batch = 0
    for kill in range(24):
        child = subprocess.Popen([sys.executable, "-c", IMPORTER, str(store_path), str(next_batch)], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        time.sleep(rng.uniform(0.15, 0.6))
        child.send_signal(signal.SIGKILL)
        out, _ = child.communicate()
        for line in out.split("\n")[:-1]:  # whole lines only: a kill may cut the last one short
            fields = line.split()
            assert len(fields) == 3, f"kill {kill}: unexpected child output {line!r}"
            b, first, last = map(int, fields)
            committed[b] = (first, last)
            next_batch = max(next_batch, b + 1)
        next_batch += 1  # a batch that may be half-done in the killed child is never reused
        with memento.open(store_path, tier="minimal") as mem:
            failed = [c for c in mem.doctor() if not c.ok]
            assert not failed, (kill, failed)
            stored = {m.id: m for m in mem.iter()}
            for b, (first, last) in committed.items():
                assert all(i in stored for i in range(first, last + 1)), f"kill {kill}: batch {b} lost"
            batches = {}
            for m in stored.values():
                batches.setdefault(m.metadata["b"], []).append(m)
            assert all(len(ms) == 25 for ms in batches.values()), "a half-written batch survived"
    assert len(committed) > 24, "the child never got far enough to be killed mid-import"
    print(f"\n24 kills survived, {len(committed)} batches ({len(committed) * 25} memories) all intact")
