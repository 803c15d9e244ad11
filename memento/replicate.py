"""Continuous replication and restore of a store, by Litestream (a separate, static binary).

memento never syncs stores itself: Litestream streams the store's WAL to a replica (a folder, SFTP,
S3-compatible storage) and restores it anywhere, to any point in time. This module only writes
Litestream's configuration, starts it, and checks what a restore brings back. It uses the public
API (`store.open`, `Memento.doctor`) and nothing below it.

Litestream's configuration is handed over through a pipe (`-config /dev/fd/N`), never a file on
disk or the command line, so a password in an sftp:// URL is not visible in `ps` nor left behind.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence
from urllib.parse import SplitResult, unquote, urlsplit

from . import files, store, validate
from .errors import InvalidInputError, MementoError, StoreError

SCHEMES = ("file", "sftp", "s3")
INSTALL_HINT = ("pip install 'memento-openclaw[replicate]' (Litestream's wheels exist for x86_64 and "
                "aarch64; elsewhere, e.g. armv7l, put a litestream binary on PATH or set $MEMENTO_LITESTREAM)")
SFTP_KEY_ENV = "MEMENTO_SFTP_KEY"            # path of the private key for sftp:// replicas
SFTP_HOST_KEY_ENV = "MEMENTO_SFTP_HOST_KEY"  # the server's public key ("ssh-ed25519 AAAA...")
_DEFAULT_KEYS = ("id_ed25519", "id_ecdsa", "id_rsa")


class ReplicationError(MementoError):
    """Replication or restore could not be done (Litestream missing or failing, a bad replica URL,
    a restore that would overwrite a store, a restored copy that fails its checks)."""


@dataclass(frozen=True)
class Replica:
    """Where a store is replicated: a validated URL and the SSH settings an sftp:// one needs."""
    url: str
    scheme: str
    key_path: Optional[str] = None
    host_key: Optional[str] = None
    folder: Optional[str] = None   # file:// only: the folder the URL names, percent-escapes decoded


@dataclass(frozen=True)
class RestoreReport:
    path: Path
    memories: int
    checks: tuple  # doctor Check values, every one ok


def find_litestream() -> Path:
    """$MEMENTO_LITESTREAM, else the binary the [replicate] extra installed beside this Python,
    else `litestream` on PATH."""
    chosen = os.environ.get("MEMENTO_LITESTREAM")
    if chosen and not (os.path.isfile(chosen) and os.access(chosen, os.X_OK)):
        raise ReplicationError(f"$MEMENTO_LITESTREAM names {chosen}, which is not an executable file")
    candidates = [chosen,
                  str(Path(sysconfig.get_path("scripts")) / "litestream"),
                  str(Path(sys.executable).parent / "litestream"),
                  shutil.which("litestream")]
    for candidate in filter(None, candidates):
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return Path(candidate)
    raise ReplicationError(f"replication needs Litestream, which is not installed: {INSTALL_HINT}")


def parse_replica(url: str) -> Replica:
    """Check a replica URL; an sftp:// one also gets its private key and the server's host key."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidInputError("a replica URL is needed: file:///dir, sftp://user@host/path or s3://bucket/path")
    parts = urlsplit(url.strip())
    if parts.scheme not in SCHEMES:
        raise InvalidInputError(f"replica URL {_redact(url)!r}: the scheme must be one of "
                                f"{', '.join(s + '://' for s in SCHEMES)}")
    if parts.scheme == "file":
        return Replica(url.strip(), "file", folder=_folder(url.strip(), parts))
    if not parts.hostname or parts.path in ("", "/"):
        raise InvalidInputError(f"replica URL {_redact(url)!r} needs a host and a path")
    if parts.scheme == "sftp":
        if not parts.username:
            raise InvalidInputError(f"replica URL {_redact(url)!r} needs a user: sftp://user@host/path")
        return Replica(url.strip(), "sftp", _sftp_key(parts.password), _sftp_host_key(parts.hostname, parts.port))
    return Replica(url.strip(), parts.scheme)


def _folder(url: str, parts: SplitResult) -> str:
    """The one folder a file:// URL names, decoded once here: memento creates it and Litestream is
    given this path, never the URL (Litestream 0.5 keeps a URL's %20 as a literal "%20" in the folder
    it writes, and turns a raw space into one). A '?' or '#' would end the path early, and the
    replica would land in a parent folder, so both are refused (write them %3F and %23)."""
    if parts.netloc or not parts.path.startswith("/"):
        raise InvalidInputError(f"replica URL {url!r}: a folder replica is file:///absolute/path")
    if "?" in url or "#" in url:
        raise InvalidInputError(f"replica URL {url!r}: a '?' or '#' would cut the folder's path short; "
                                "write them as %3F and %23 in a folder name")
    try:
        folder = unquote(parts.path, errors="strict")
    except UnicodeDecodeError:
        raise InvalidInputError(f"replica URL {url!r}: its %-escapes are not UTF-8, so they name no folder") from None
    if "\x00" in folder:
        raise InvalidInputError(f"replica URL {url!r}: a folder name cannot hold a NUL character (%00)")
    return folder


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)


def _sftp_key(password: Optional[str]) -> Optional[str]:
    """$MEMENTO_SFTP_KEY, else the first of ~/.ssh/id_ed25519, id_ecdsa, id_rsa (Litestream does not
    ask an ssh-agent). None is fine when the URL carries a password."""
    given = os.environ.get(SFTP_KEY_ENV)
    if given:
        if not os.path.isfile(given):
            raise ReplicationError(f"${SFTP_KEY_ENV} names {given}, which is not a file")
        return given
    for name in _DEFAULT_KEYS:
        candidate = Path.home() / ".ssh" / name
        if candidate.is_file():
            return str(candidate)
    if password is None:
        raise ReplicationError(f"sftp:// replicas need a private key: set ${SFTP_KEY_ENV} to its path "
                               "(or create ~/.ssh/id_ed25519 and add its .pub to the server's authorized_keys)")
    return None


def _sftp_host_key(host: str, port: Optional[int]) -> str:
    """The server's public key, so the memories never go to an impostor: $MEMENTO_SFTP_HOST_KEY, else
    the host's entry in ~/.ssh/known_hosts (`ssh-keygen -F`; hashed entries work)."""
    given = os.environ.get(SFTP_HOST_KEY_ENV)
    if given:
        fields = given.split()
        if len(fields) < 2 or not fields[0].startswith(("ssh-", "ecdsa-")):
            raise ReplicationError(f"${SFTP_HOST_KEY_ENV} must be a public key line like 'ssh-ed25519 AAAA...'")
        return " ".join(fields[:2])
    name = host if port in (None, 22) else f"[{host}]:{port}"
    keygen = shutil.which("ssh-keygen")
    found: List[List[str]] = []
    known_hosts = Path.home() / ".ssh" / "known_hosts"
    if keygen and known_hosts.is_file():
        out = subprocess.run([keygen, "-F", name, "-f", str(known_hosts)], capture_output=True, text=True).stdout
        found = [line.split()[1:3] for line in out.splitlines() if line and not line.startswith("#")]
    found = [f for f in found if len(f) == 2]
    if not found:
        raise ReplicationError(
            f"the host key of {name} is unknown: connect once with `ssh -p {port or 22} user@{host}` to add it "
            f"to ~/.ssh/known_hosts, or set ${SFTP_HOST_KEY_ENV} to the server's public key line")
    found.sort(key=lambda f: f[0] != "ssh-ed25519")  # prefer ed25519 when the host has several
    return " ".join(found[0])


def config_text(db_path: Path, replica: Replica, log_level: str = "info") -> str:
    """Litestream's configuration for one store (JSON is YAML): logs on stderr, one replica."""
    # A folder goes by its path: Litestream would re-read the URL and escape its spaces.
    target = {"type": "file", "path": replica.folder} if replica.folder else {"url": replica.url}
    if replica.key_path:
        target["key-path"] = replica.key_path
    if replica.host_key:
        target["host-key"] = replica.host_key
    config = {"logging": {"level": log_level, "stderr": True},
              "dbs": [{"path": str(db_path), "replica": target}]}
    return json.dumps(config, indent=2)


@dataclass(frozen=True)
class _Plan:
    argv: List[str]
    config: str


def _plan(command: str, db_path: Path, replica: Replica, extra: Sequence[str] = (),
          log_level: str = "info") -> _Plan:
    # -no-expand-env: the values are ours, a '$' in a path or password must stay a '$'.
    argv = [str(find_litestream()), command, "-config", "/dev/fd/{fd}", "-no-expand-env", *extra]
    return _Plan(argv, config_text(db_path, replica, log_level))


def _config_pipe(config: str) -> int:
    """A pipe holding the configuration; returns its read end (the config is far below a pipe's buffer)."""
    read_end, write_end = os.pipe()
    with os.fdopen(write_end, "w") as w:
        w.write(config)
    return read_end


def _argv_with_fd(plan: _Plan, fd: int) -> List[str]:
    return [a.replace("{fd}", str(fd)) for a in plan.argv]


def prepare_store(db_path: Path) -> Path:
    """The store must exist and be a memento store (opening it also upgrades it and sets WAL mode,
    which Litestream requires). A mistyped path must not start replicating an empty new store."""
    db_path = Path(db_path).expanduser().resolve()
    if not db_path.is_file():
        raise StoreError(f"no store at {db_path}: create it first, or `memento restore` it from a replica")
    with store.open(db_path, tier="minimal"):
        pass
    return db_path


def _replicate_plan(db_path: Path, url: str, log_level: str = "info") -> _Plan:
    db_path = prepare_store(db_path)
    replica = parse_replica(url)
    if replica.folder:  # a new local replica folder is owner-only, like the store
        Path(replica.folder).mkdir(parents=True, exist_ok=True, mode=0o700)
    return _plan("replicate", db_path, replica, log_level=log_level)


def start(db_path: Path, url: str, timeout: float = 30.0) -> subprocess.Popen:
    """Start Litestream replicating the store in the background; stop it with SIGTERM (it then syncs
    what is left) and wait(). For programs and tests; the command line uses run_foreground()."""
    plan = _replicate_plan(db_path, url, log_level="debug")  # its first sync is logged at debug level
    fd = _config_pipe(plan.config)
    try:
        process = subprocess.Popen(_argv_with_fd(plan, fd), pass_fds=(fd,), stdin=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True, errors="replace")
    finally:
        os.close(fd)
    _wait_until_ready(process, timeout)
    return process


def _wait_until_ready(process: subprocess.Popen, timeout: float) -> None:
    """Forward Litestream's log (info and above) to our stderr and return after its first sync.
    Litestream opens the store lazily: stopped before that, it exits without a last sync."""
    ready = threading.Event()

    def forward() -> None:
        for line in process.stderr:
            if "level=DEBUG" not in line:
                sys.stderr.write(line)
            elif 'msg="replica sync"' in line:
                ready.set()
        ready.set()  # it exited

    threading.Thread(target=forward, name="litestream-log", daemon=True).start()
    if not ready.wait(timeout) or process.poll() is not None:
        process.kill()
        process.wait()
        raise ReplicationError(f"litestream did not start replicating (exit status {process.returncode}); "
                               "its log is above")


def run_foreground(db_path: Path, url: str) -> None:
    """Become Litestream (exec): the foreground process a shell or systemd sees is Litestream itself,
    so SIGTERM/SIGINT reach it directly and it stops cleanly after a last sync, logs go to stderr, and
    no Python interpreter stays in memory beside it. Returns only on error."""
    plan = _replicate_plan(db_path, url)
    fd = _config_pipe(plan.config)
    os.set_inheritable(fd, True)
    argv = _argv_with_fd(plan, fd)
    sys.stderr.flush()
    try:
        os.execv(argv[0], argv)
    except OSError as e:
        os.close(fd)
        raise ReplicationError(f"could not start {argv[0]}: {e}") from e


def restore(url: str, db_path: Path, *, timestamp: validate.Timestamp = None, force: bool = False) -> RestoreReport:
    """Restore the store from its replica (as it was at `timestamp`, else the latest), check it
    (integrity, indexes in step, a write probe), make it owner-only and only then move it into place.

    Only a memento store, or nothing, is ever replaced: an existing store only with force=True, and
    anything else at db_path (a FIFO, a device, a folder, another application's file) never. A
    symlink at db_path is followed, as opening a store follows it: the file it points to is checked
    and replaced, the link stays. A failed restore or check leaves the destination as it was."""
    db_path = Path(os.path.realpath(Path(db_path).expanduser()))
    replica = parse_replica(url)
    when = validate.timestamp(timestamp, "timestamp")
    _check_replaceable(db_path, force)   # before the download: a refusal costs nothing
    # A folder of our own beside the store (same file system, so the rename is atomic): owner-only
    # from the start, with a name no other run can hold, so nothing is deleted to make room for it.
    try:
        db_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        staging_dir = Path(tempfile.mkdtemp(prefix=f".{db_path.name}.restoring-", dir=db_path.parent))
    except OSError as e:
        raise StoreError(f"cannot restore into {db_path.parent} ({e.strerror}): check that the folder "
                         "is writable; nothing was replaced") from e
    staging = staging_dir / db_path.name
    try:
        _litestream_restore(replica, db_path, staging, when)
        os.chmod(staging, 0o600)
        report = _check_restored(staging)
        for leftover in files.store_files(staging)[1:]:
            if leftover.exists():  # the last connection closed: SQLite checkpointed and removed them
                raise ReplicationError(f"{leftover} was left behind after the checks; nothing was replaced")
        # Checked again: the restore took a while, and what is at db_path now is what gets replaced.
        if _check_replaceable(db_path, force):
            _remove_companions(db_path)
            _forget_litestream_position(db_path)
        os.replace(staging, db_path)
    finally:
        shutil.rmtree(staging_dir, ignore_errors=True)   # made by mkdtemp above for this restore alone
    return RestoreReport(db_path, report[0], report[1])


def _check_replaceable(db_path: Path, force: bool) -> bool:
    """Whether something memento may replace is at db_path (files.replaceable_store refuses the
    rest); without force, an existing store is refused too. Litestream's folder beside it must be a
    folder, not a link leading elsewhere."""
    there = files.replaceable_store(db_path)
    if there and not force:
        raise ReplicationError(f"{db_path} already exists: restore elsewhere, or pass --force to replace it")
    meta = _litestream_meta(db_path)
    if meta.is_symlink() or (meta.exists() and not meta.is_dir()):
        raise StoreError(f"{meta} is not the folder Litestream keeps beside the store; it and the store "
                         "were left untouched: move it away yourself")
    return there


def _litestream_restore(replica: Replica, db_path: Path, staging: Path, when: Optional[str]) -> None:
    extra = ["-o", str(staging)] + (["-timestamp", when.replace(".000Z", "Z")] if when else [])
    plan = _plan("restore", db_path, replica, extra)
    fd = _config_pipe(plan.config)
    try:
        done = subprocess.run(_argv_with_fd(plan, fd) + [str(db_path)], pass_fds=(fd,),
                              stdin=subprocess.DEVNULL, capture_output=True, text=True)
    finally:
        os.close(fd)
    if done.returncode != 0 or not staging.is_file():
        said = (done.stderr.strip() or done.stdout.strip() or f"exit status {done.returncode}").splitlines()
        raise ReplicationError(f"litestream could not restore from {_redact(replica.url)}: {said[-1]}")


def _check_restored(path: Path):
    """Open the restored copy through the public API and run doctor's checks on it."""
    try:
        with store.open(path) as mem:
            checks = tuple(mem.doctor())
            memories = mem.count(include_superseded=True, include_expired=True)
    except MementoError as e:
        raise ReplicationError(f"the restored copy is not a usable store: {e}; nothing was replaced") from e
    failed = [c for c in checks if not c.ok]
    if failed:
        raise ReplicationError("the restored copy failed its checks; nothing was replaced: "
                               + "; ".join(f"{c.name}: {c.detail}" for c in failed))
    return memories, checks


def _remove_companions(db_path: Path) -> None:
    """The old store's -wal/-shm/-journal go before the new file takes its place: SQLite would
    otherwise read the old store's log into the new one. Only called after files.replaceable_store."""
    for p in files.companions(db_path):
        p.unlink(missing_ok=True)


def _litestream_meta(db_path: Path) -> Path:
    return db_path.with_name(f".{db_path.name}-litestream")


def _forget_litestream_position(db_path: Path) -> None:
    """Litestream keeps its position in `.NAME-litestream` beside the store; after the store is
    replaced that position describes another file (Litestream's tips: reset it)."""
    meta = _litestream_meta(db_path)
    if meta.is_dir() and not meta.is_symlink():
        shutil.rmtree(meta)


def stop(process: subprocess.Popen, timeout: float = 60.0) -> int:
    """SIGTERM Litestream (a clean stop: it syncs what is left first) and wait for it."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    return process.wait(timeout=timeout)
