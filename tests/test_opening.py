"""Opening a store file safely: many processes at once, a writer holding the lock, read-only media,
files that are almost a store, odd paths (symlinks, FIFOs, devices), a closed or shared Memento."""
from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import apsw
import pytest

import memento
from memento import IncompatibleStoreError, StoreError, TierUnavailableError, connection, tiers
from memento.cli import main
from memento.schema import APPLICATION_ID, latest_version

from .conftest import REPO, require_tier


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def spawn(code: str, *args, **popen) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen)


def _immutable(path: Path, on: bool) -> bool:
    """Root ignores file modes, so read-only media are emulated with the immutable attribute."""
    return subprocess.run(["chattr", "+i" if on else "-i", str(path)], capture_output=True).returncode == 0


class ReadOnly:
    """Make files (and folders) unwritable for this process, whoever it runs as; undo on exit."""

    def __init__(self, *paths: Path):
        self.paths = paths

    def __enter__(self) -> "ReadOnly":
        for p in self.paths:
            if os.geteuid() != 0:
                p.chmod(0o500 if p.is_dir() else 0o400)
            elif not _immutable(p, True):
                self.__exit__()
                pytest.skip("cannot make a file read-only for root here (chattr +i unsupported)")
        return self

    def __exit__(self, *exc) -> None:
        for p in reversed(self.paths):
            if os.geteuid() == 0:
                _immutable(p, False)
            else:
                p.chmod(0o700 if p.is_dir() else 0o600)


# -- item 1: any number of processes creating the same new store at the same instant ---------------

CREATOR = """
import os, sys, time
folder, stores, ready, go = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
import memento
open(ready, "w").close()
while not os.path.exists(go):   # the barrier: every process leaves it within a millisecond
    time.sleep(0.0005)
for s in range(stores):         # the same new stores, in the same order, at nearly the same instant
    with memento.open(os.path.join(folder, f"store{s}", "memento.db"), tier="minimal") as mem:
        mem.remember(f"note from process {os.getpid()} about kiwi")
        assert mem.recall("kiwi"), "a process could not find what it had just written"
"""


@pytest.mark.slow
@pytest.mark.spawns_python
def test_many_processes_create_the_same_new_stores_at_once(tmp_path):
    processes, rounds, stores = 8, 3, 15
    for r in range(rounds):
        folder = tmp_path / f"round{r}"
        folder.mkdir()
        go = folder / "go"
        ready = [folder / f"ready{i}" for i in range(processes)]
        children = [spawn(CREATOR, folder, stores, ready[i], go) for i in range(processes)]
        deadline = time.monotonic() + 120
        while not all(p.exists() for p in ready) and time.monotonic() < deadline:
            time.sleep(0.01)
        go.touch()
        for child in children:
            _, err = child.communicate(timeout=300)
            assert child.returncode == 0, f"round {r}: {err[-2000:]}"
        for s in range(stores):
            path = folder / f"store{s}" / "memento.db"
            with memento.open(path, tier="minimal") as mem:
                assert mem.count() == processes
                assert all(c.ok for c in mem.doctor())
            assert stat.S_IMODE(path.stat().st_mode) == 0o600


# -- item 2: opening an up-to-date store does not write ----------------------------------------------

HOLDER = """
import sys, apsw
conn = apsw.Connection(sys.argv[1])
conn.set_busy_timeout(10000)
conn.execute("BEGIN IMMEDIATE")
conn.execute("INSERT INTO memories (text, created_at, updated_at) "
             "VALUES ('written while the others read', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')")
print("holding the write lock", flush=True)
sys.stdin.readline()    # hold it until the test has opened and recalled
conn.execute("COMMIT")
"""


def _open_and_recall_under_a_held_write_lock(path: Path, monkeypatch, tier: str) -> None:
    holder = spawn(HOLDER, path, stdin=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == "holding the write lock", holder.stderr.read()
        # Anything in open() that waited for the write lock would now fail after 0.3 s instead of 10 s.
        monkeypatch.setattr(connection, "BUSY_TIMEOUT_MS", 300)
        for asked in (tier, None):   # the tier given, and the store's recorded tier
            with memento.open(path, tier=asked) as mem:
                assert [h.text for h in mem.recall("kiwi", mode="keyword")] == ["the kiwi is ripe"]
                assert mem.count() == 1  # the holder's memory is not committed yet
        assert holder.poll() is None, "the holder let go of the lock too early for this test to mean anything"
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    assert holder.returncode == 0, holder.stderr.read()
    with memento.open(path, tier=tier) as mem:
        assert mem.count() == 2


@pytest.mark.spawns_python
def test_open_and_recall_while_another_process_holds_the_write_lock(store_path, monkeypatch):
    with memento.open(store_path, tier="minimal") as mem:
        mem.remember("the kiwi is ripe")
    _open_and_recall_under_a_held_write_lock(store_path, monkeypatch, "minimal")


@pytest.mark.vector
@pytest.mark.spawns_python
def test_vector_tier_opens_and_recalls_while_another_process_holds_the_write_lock(store_path, monkeypatch):
    require_tier("full")
    with memento.open(store_path, tier="full") as mem:
        mem.remember("the kiwi is ripe")
        gone = mem.remember("forgotten by a keyword-only visit").id
    with memento.open(store_path, tier="minimal") as mem:
        mem.forget(gone)  # queues its vector's delete for the next vector-tier connection
    _open_and_recall_under_a_held_write_lock(store_path, monkeypatch, "full")
    with memento.open(store_path, tier="full") as mem:  # nobody writing now: the queue is applied
        assert mem._conn.execute("SELECT count(*) FROM vector_deletes").get == 0
        assert mem._conn.execute("SELECT count(*) FROM memories_vec").get == 1


@pytest.mark.parametrize("tier", ["minimal", pytest.param("full", marks=pytest.mark.vector)])
@pytest.mark.parametrize("read_only", ["file-and-folder", "file", "folder"])
def test_read_only_store_opens_for_recall_and_refuses_writes(store_path, read_only, tier):
    if tier != "minimal":
        require_tier(tier)
    with memento.open(store_path, tier=tier) as mem:
        kept = mem.remember_many(["the kiwi is ripe", "the mango is green", "tea at five"])
    before, files = sha(store_path), sorted(os.listdir(store_path.parent))
    folder_too = read_only != "file"
    with ReadOnly(*([store_path] if read_only != "folder" else []), *([store_path.parent] if folder_too else [])):
        for asked in (tier, None):
            with memento.open(store_path, tier=asked) as mem:
                assert mem.tier == tier
                assert [h.id for h in mem.recall("kiwi", k=1)] == [kept[0].id]
                assert list(mem.iter()) == kept and mem.get(kept[2].id) == kept[2]
                assert mem.stats().memories == 3
                with pytest.raises(StoreError, match="read-only"):
                    mem.remember("cannot be written")
                with pytest.raises(StoreError, match="read-only"):
                    mem.forget(kept[0].id)
        assert sha(store_path) == before
    if folder_too:
        assert sorted(os.listdir(store_path.parent)) == files
    with memento.open(store_path, tier=tier) as mem:
        assert list(mem.iter()) == kept
        assert mem.remember("writable again").id == kept[-1].id + 1


def test_read_only_store_that_needs_an_upgrade_is_a_clear_error(store_path):
    with memento.open(store_path, tier="minimal") as mem:
        mem.remember("old")
    conn = apsw.Connection(str(store_path))
    conn.pragma("user_version", latest_version() - 1)  # pretend one migration is still to come
    conn.close()
    before = sha(store_path)
    with ReadOnly(store_path, store_path.parent):
        with pytest.raises(StoreError, match="read-only.*upgrade"):
            memento.open(store_path, tier="minimal")
        assert sha(store_path) == before


@pytest.mark.vector
def test_read_only_store_whose_vector_index_needs_remaking_is_a_clear_error(store_path):
    require_tier("full")
    with memento.open(store_path, tier="full") as mem:
        mem.remember("the kiwi is ripe")
        with mem._conn:  # memories_vec as stores made before its int8 column have it
            mem._conn.execute("DROP TABLE memories_vec")
            mem._conn.execute("CREATE VIRTUAL TABLE memories_vec USING vec0 "
                              "(cell integer partition key, embedding_bits bit[384], +embedding blob)")
    before = sha(store_path)
    with ReadOnly(store_path, store_path.parent):
        with pytest.raises(StoreError, match="read-only.*older layout.*write access"):
            memento.open(store_path, tier="full")
        with memento.open(store_path, tier="minimal") as mem:  # keywords still answer
            assert [h.text for h in mem.recall("kiwi")] == ["the kiwi is ripe"]
        assert sha(store_path) == before


def test_read_only_folder_without_the_store_is_a_clear_error(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    with ReadOnly(folder):
        with pytest.raises(StoreError, match="cannot create"):
            memento.open(folder / "memento.db", tier="minimal")
    assert os.listdir(folder) == []


# -- item 9: files that are almost a memento store are refused untouched --------------------------

ALMOST_A_STORE = {
    "no tables, user_version 2": (0, 2, ""),
    "no tables, memento id, latest version": (APPLICATION_ID, latest_version(), ""),
    "memento id, unrelated memories table, version 0": (APPLICATION_ID, 0, "CREATE TABLE memories (x)"),
    "memento id, unrelated memories table, version 1": (APPLICATION_ID, 1, "CREATE TABLE memories (x)"),
    "memento id, unrelated memories table, latest": (APPLICATION_ID, latest_version(), "CREATE TABLE memories (x)"),
}


@pytest.mark.parametrize("app_id, version, ddl", ALMOST_A_STORE.values(), ids=list(ALMOST_A_STORE))
def test_almost_a_store_is_refused_untouched(store_path, app_id, version, ddl):
    store_path.parent.mkdir(parents=True)
    conn = apsw.Connection(str(store_path))
    if ddl:
        conn.execute(ddl)
    conn.pragma("application_id", app_id)
    conn.pragma("user_version", version)
    conn.close()
    before = sha(store_path)
    with pytest.raises(IncompatibleStoreError, match="left untouched"):
        memento.open(store_path, tier="minimal")
    assert sha(store_path) == before  # among others: header bytes 18-19 still say "not WAL"
    assert os.listdir(store_path.parent) == [store_path.name]


def test_store_with_a_column_added_in_the_shell_still_opens(store_path):
    with memento.open(store_path, tier="minimal") as mem:
        kept = mem.remember("the kiwi is ripe")
    conn = apsw.Connection(str(store_path))
    conn.execute("ALTER TABLE memories ADD COLUMN my_note TEXT")
    conn.close()
    with memento.open(store_path, tier="minimal") as mem:
        assert [h.id for h in mem.recall("kiwi")] == [kept.id]
        assert mem.remember("after the shell edit").id == kept.id + 1


# -- item 11: new and empty store files are owner-only -----------------------------------------------

@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_dangling_symlink_creates_a_private_target(tmp_path, umask_022):
    target = tmp_path / "data" / "real.db"
    target.parent.mkdir()
    link = tmp_path / "memento.db"
    link.symlink_to(target)
    with memento.open(link, tier="minimal") as mem:
        mem.remember("through a symlink")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert link.is_symlink() and memento.open(target, tier="minimal").count() == 1


def test_empty_file_is_taken_over_owner_only(store_path, umask_022):
    store_path.parent.mkdir(parents=True)
    store_path.touch(mode=0o644)
    assert stat.S_IMODE(store_path.stat().st_mode) == 0o644
    with memento.open(store_path, tier="minimal") as mem:
        mem.remember("private now")
    assert stat.S_IMODE(store_path.stat().st_mode) == 0o600


# -- item 12: odd paths, a closed Memento, a Memento shared by threads ------------------------------

OPEN_ODD_PATH = """
import sys, memento
try:
    memento.open(sys.argv[1], tier="minimal")
except memento.StoreError as e:
    print(f"StoreError: {e}")
"""


def _make_fifo(path: Path) -> None:
    os.mkfifo(path)


def _make_device(path: Path) -> None:
    try:
        os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 3))  # what /dev/null is
    except PermissionError:
        pytest.skip("creating a device node needs root")


@pytest.mark.spawns_python
@pytest.mark.parametrize("make, kind", [(_make_fifo, "FIFO"), (_make_device, "device"), (Path.mkdir, "directory")])
def test_fifo_device_or_directory_path_is_a_clear_error(tmp_path, make, kind):
    path = tmp_path / "odd"
    make(path)
    child = spawn(OPEN_ODD_PATH, path)   # in a child: opening a FIFO used to hang for ever
    try:
        out, err = child.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        child.kill()
        pytest.fail(f"opening a {kind} hung")
    assert out.startswith("StoreError:") and kind in out, out + err
    assert sorted(os.listdir(tmp_path)) == ["odd"]


def test_closed_memento_is_a_clear_error(store_path):
    mem = memento.open(store_path, tier="minimal")
    kept = mem.remember("before close")
    mem.close()
    mem.close()  # twice is fine
    for call in (lambda: mem.recall("close"), lambda: mem.remember("after"), lambda: mem.get(kept.id),
                 lambda: mem.count(), lambda: list(mem.iter()), lambda: mem.stats()):
        with pytest.raises(StoreError, match="closed"):
            call()


def test_one_memento_used_from_two_threads_is_safe(store_path):
    """A Memento serializes its calls: threads may share one (each call runs alone)."""
    errors = []
    with memento.open(store_path, tier="minimal") as mem:
        def work(who: str) -> None:
            try:
                for i in range(60):
                    mem.remember(f"thread {who} note {i} about kiwi", tags=[who])
                    mem.recall("kiwi note", k=5)
                    sum(1 for _ in mem.iter(tags=[who], page_size=50))
            except Exception as e:  # noqa: BLE001 - collected and asserted below
                errors.append(e)
        threads = [threading.Thread(target=work, args=(w,)) for w in ("a", "b", "c")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors[:3]
        assert mem.count() == 180 and all(c.ok for c in mem.doctor())


# -- item 13 and the seams ---------------------------------------------------------------------------

def test_fast_is_an_alias_of_the_full_tier(store_path, capsys):
    if tiers.missing_packages("full"):
        with pytest.raises(TierUnavailableError, match=r"memento-openclaw\[full\]"):
            memento.open(store_path, tier="fast")
        assert main(["tier", "--tier", "fast", "--db", str(store_path)]) == 1
        assert "memento-openclaw[full]" in capsys.readouterr().err
    else:
        with memento.open(store_path, tier="fast") as mem:
            assert mem.tier == "full"
        assert main(["tier", "--tier", "fast", "--db", str(store_path), "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["tier"] == "full"


def test_failed_commit_rolls_back_and_leaves_no_transaction(tmp_path):
    """A deferred foreign key makes COMMIT itself fail: the connection must not stay in the transaction."""
    conn = apsw.Connection(str(tmp_path / "t.db"))
    conn.pragma("foreign_keys", True)
    conn.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY);"
                 "CREATE TABLE child (pid INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)")
    with pytest.raises(apsw.ConstraintError):
        with connection.write_transaction(conn):
            conn.execute("INSERT INTO child VALUES (42)")
    assert not conn.in_transaction
    with connection.write_transaction(conn):
        conn.execute("INSERT INTO parent VALUES (1)")
    assert conn.execute("SELECT count(*) FROM child").get == 0
    assert apsw.Connection(str(tmp_path / "t.db")).execute("SELECT count(*) FROM parent").get == 1


def test_tier_command_reports_the_tier_open_would_use(store_path, capsys):
    with memento.open(store_path, tier="minimal"):
        pass  # records tier "minimal" in the store
    assert main(["tier", "--db", str(store_path), "--json"]) == 0
    reported = json.loads(capsys.readouterr().out)
    with memento.open(store_path) as mem:
        assert (reported["tier"], reported["source"]) == (mem.tier, mem.tier_choice.source) == ("minimal", "store")
    fresh = store_path.with_name("never-created.db")
    assert main(["tier", "--db", str(fresh)]) == 0
    assert not fresh.exists(), "`memento tier` must not create a store"
