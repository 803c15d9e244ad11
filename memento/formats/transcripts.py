"""Agent session transcripts (JSON Lines, one event a line) in, incrementally: what the Claude Code
and OpenClaw session importers share. A format module only says which lines are messages
(a `Format`); this module finds the files, reads what is new in each, redacts, chunks and stores.

Each message becomes one memory (a long one several, neighbours in its thread), stored without
duplicate merging: two messages with the same text are two memories, and a message is keyed by its
line's id (metadata.uuid) and records the file it was read from (metadata.file). Where each file was
read to (device, inode, offset, mtime, the length and sha256 of the last line read, the threads its
lines belong to) is recorded in the store with the memories of the same transaction
(Memento.remember_at), so a kill leaves the store and the positions consistent and a rerun resumes
exactly. A rerun opens only files whose size or mtime changed; an appended file is read from its
recorded offset once its last read line is found unchanged there; a rewritten, truncated or replaced
file is read again from the start, skipping the ids its sessions already hold. A partial last line
(a transcript being written) is left for the next run. A vanished file keeps its memories unless
prune=True asks to forget them (prune_vanished).
"""
from __future__ import annotations

import hashlib
import json
import os
import stat
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Dict, Iterator, List, Optional, Set, Tuple

from .. import redact, validate
from ..errors import InvalidInputError

CHUNK_CHARS = 4_000          # see chunk(): most turns stay whole, a pasted log is cut
MAX_LINE_BYTES = 32 * 1024 * 1024   # a line larger than this (a huge tool result) is skipped unread
BATCH = 500                  # memories per transaction (and held in memory)
_READ_SIZE = 1 << 20


@dataclass(frozen=True)
class Message:
    """One user or assistant message of a transcript, before redaction and chunking."""
    uuid: str
    thread: str
    speaker: str
    text: str
    created_at: Optional[str]
    metadata: Dict[str, object]


@dataclass(frozen=True)
class Format:
    source: str                                               # "claude-code", "openclaw"
    parse: Callable[[dict, str], Optional[Message]]           # (event, file path) -> a message, or None
    default_root: Callable[[], str]


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


@dataclass
class CaptureSummary:
    source: str
    root: str
    files: int = 0              # transcript files opened and read (some new lines or a check)
    unchanged: int = 0          # files not opened: same size and mtime as recorded
    reread: int = 0             # files rewritten, truncated or replaced, read again from the start
    lines: int = 0              # complete lines read
    messages: int = 0           # messages stored (user and assistant texts)
    added: int = 0              # memories stored (a long message makes several)
    already: int = 0            # messages found stored already (a re-read file)
    bad_lines: int = 0          # malformed lines (not JSON, not UTF-8, too large, refused), skipped
    vanished: int = 0           # files read before, under root, that are gone
    forgotten: int = 0          # memories of vanished files forgotten (prune=True)
    redacted: Dict[str, int] = field(default_factory=dict)   # credentials replaced, by kind
    skipped: List[Skipped] = field(default_factory=list)     # files not read, with the reason
    bad: List[Skipped] = field(default_factory=list)         # first few bad lines, with the reason


@dataclass(frozen=True)
class Position:
    """Where a file was read to: the next run starts at `offset` if the file is still this one."""
    dev: int
    ino: int
    offset: int
    mtime_ns: int
    tail_len: int = 0           # the last line read, so an append is told from a rewrite
    tail_sha: str = ""
    threads: Tuple[str, ...] = ()   # the threads of the messages read from the file, sorted (prune)

    def to_json(self) -> str:
        return json.dumps([self.dev, self.ino, self.offset, self.mtime_ns, self.tail_len, self.tail_sha,
                           list(self.threads)], ensure_ascii=False)

    @classmethod
    def from_json(cls, text: Optional[str]) -> Optional["Position"]:
        try:
            dev, ino, offset, mtime_ns, tail_len, tail_sha, *rest = json.loads(text)
            threads = tuple(str(t) for t in rest[0]) if rest and isinstance(rest[0], list) else ()
            return cls(int(dev), int(ino), int(offset), int(mtime_ns), int(tail_len), str(tail_sha), threads)
        except (TypeError, ValueError):
            return None         # no position, or one we cannot read: the file is read from the start


# -- finding files -------------------------------------------------------------------------------

def find_files(root: str) -> Iterator[Tuple[str, Optional[str]]]:
    """(path, None) for each *.jsonl under root (or root itself, a file), sorted; (path, reason) for
    what is not read: symlinks (never followed), unreadable folders."""
    root = os.path.abspath(os.path.expanduser(root))
    if os.path.isfile(root) or not os.path.isdir(root):
        yield root, None        # a named file (reading it says what is wrong with it)
        return
    problems: List[Tuple[str, str]] = []

    def unreadable(error: OSError) -> None:
        problems.append((error.filename or root, f"folder not readable: {error.strerror or error}"))

    for folder, dirs, files in os.walk(root, onerror=unreadable, followlinks=False):
        dirs.sort()
        for d in [d for d in dirs if os.path.islink(os.path.join(folder, d))]:
            dirs.remove(d)
            yield os.path.join(folder, d), "symlink (not followed)"
        for name in sorted(files):
            if name.endswith(".jsonl"):
                full = os.path.join(folder, name)
                yield full, ("symlink (not followed)" if os.path.islink(full) else None)
        while problems:
            yield problems.pop(0)
    while problems:
        yield problems.pop(0)


# -- reading what is new -------------------------------------------------------------------------

class Unreadable(Exception):
    """A file that cannot be read as a transcript; the message says why."""


def open_file(path: str) -> Tuple[int, os.stat_result]:
    """An fd on a regular file, never through a symlink, never blocking (a FIFO named *.jsonl)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError as e:
        raise Unreadable(f"cannot open: {e.strerror or e}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise Unreadable("not a regular file")
    return fd, info


def start_of(fd: int, info: os.stat_result, old: Optional[Position]) -> int:
    """Where to resume: the recorded offset if the file is the same one and its last read line is
    still there, unchanged; else 0 (a new, rewritten, truncated or replaced file)."""
    if old is None or (old.dev, old.ino) != (info.st_dev, info.st_ino) or info.st_size < old.offset:
        return 0
    if old.tail_len == 0:
        return 0
    tail = os.pread(fd, old.tail_len, old.offset - old.tail_len)
    return old.offset if hashlib.sha256(tail).hexdigest() == old.tail_sha else 0


def lines_from(fd: int, offset: int) -> Iterator[Tuple[Optional[bytes], int, Optional[str]]]:
    """(line, offset after it, None) for each complete line from offset; (None, offset after it,
    reason) for a line over MAX_LINE_BYTES, skipped without holding it. A last line without its
    newline is being written: it is not read (the next run reads it whole)."""
    # buffer[0] sits at `offset` in the file. A bytearray grows and shrinks in place: a line near
    # MAX_LINE_BYTES is held once, not once more by each concatenation (a 33 MB line: peak RSS of
    # a capture 90 -> ~55 MB).
    buffer, read_at, skipping = bytearray(), offset, False
    while True:
        data = os.pread(fd, _READ_SIZE, read_at)
        if not data:
            return
        read_at += len(data)
        if skipping:
            cut = data.find(b"\n")
            if cut < 0:
                continue
            offset, buffer, skipping = read_at - len(data) + cut + 1, bytearray(data[cut + 1:]), False
            yield None, offset, f"line over {MAX_LINE_BYTES:,} bytes"
        else:
            buffer += data
        start = 0
        cut = buffer.find(b"\n")
        while cut >= 0:
            if cut + 1 - start > MAX_LINE_BYTES:
                yield None, offset + cut + 1, f"line over {MAX_LINE_BYTES:,} bytes"
            else:
                with memoryview(buffer) as view:
                    line = bytes(view[start:cut + 1])
                yield line, offset + cut + 1, None
            start = cut + 1
            cut = buffer.find(b"\n", start)
        offset = offset + start
        del buffer[:start]
        if len(buffer) > MAX_LINE_BYTES:
            buffer, skipping = bytearray(), True


def tail_of(fd: int, line: Optional[bytes], end: int) -> Tuple[int, str]:
    """(length, sha256) of what start_of() checks before `end`: the last line read, or for a line
    too large to hold, its last 4,096 bytes (read again)."""
    if line is None:
        line = os.pread(fd, min(end, 4096), end - min(end, 4096))
    return len(line), hashlib.sha256(line).hexdigest()


def event_of(line: bytes) -> Tuple[Optional[dict], Optional[str]]:
    """A line's JSON object, or why it is not one."""
    if not line.strip():
        return None, None       # a blank line is nothing, not an error
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as e:
        return None, f"not UTF-8 (byte 0x{line[e.start]:02x})"
    try:
        event = json.loads(text)
    except ValueError as e:
        return None, f"not JSON ({e.msg})"
    if not isinstance(event, dict):
        return None, f"not a JSON object ({type(event).__name__})"
    return event, None


# -- messages into memories ----------------------------------------------------------------------

def chunk(text: str, limit: int = CHUNK_CHARS) -> List[str]:
    """A message cut into pieces of at most `limit` characters, at a paragraph, a line or a space
    where one falls in the second half of the piece. 4,000 characters keeps nearly every
    conversational turn whole (a turn is what recall ranks best, docs/threads.md) while a pasted log
    becomes pieces small enough for bm25 and well under validate.MAX_TEXT_CHARS."""
    pieces = []
    while len(text) > limit:
        window = text[:limit]
        cut = max(window.rfind("\n\n"), window.rfind("\n"), window.rfind(" "))
        cut = cut if cut >= limit // 2 else limit
        pieces.append(text[:cut].strip())
        text = text[cut:]
    pieces.append(text.strip())
    return [p for p in pieces if p]


def items_of(message: Message, found: Counter, source_path: str) -> List[dict]:
    """The memories of one message: redacted, chunked, each a remember() item that names its file
    (what prune_vanished forgets a vanished file's memories by)."""
    text, kinds = redact.redact(message.text)
    found.update(kinds)
    pieces = chunk(text)
    items = []
    for index, piece in enumerate(pieces):
        metadata = dict(message.metadata, uuid=message.uuid, file=source_path)
        if len(pieces) > 1:
            metadata.update(chunk=index + 1, chunks=len(pieces))
        items.append({"text": piece, "thread": message.thread, "speaker": message.speaker,
                      "created_at": message.created_at, "metadata": metadata})
    return items


def timestamp(value: object) -> Optional[str]:
    """An ISO-8601 text or epoch milliseconds -> the stored form; None when it is neither."""
    try:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return validate.timestamp(datetime.fromtimestamp(value / 1000, timezone.utc), "timestamp")
        if isinstance(value, str):
            return validate.timestamp(value, "timestamp")
    except (InvalidInputError, OverflowError, ValueError, OSError):
        pass
    return None


def text_of(content: object) -> str:
    """A message's text: a string content, or its text blocks joined by a blank line (tool calls,
    tool results, thinking and images are not text blocks)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [b["text"] for b in content
                 if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)]
        return "\n\n".join(t for t in texts if t.strip())
    return ""


# -- the import ----------------------------------------------------------------------------------

class _Batch:
    """Memories and the read positions they move, committed together; `committed()` runs after each
    commit."""

    def __init__(self, mem, embed: str, size: int, committed: Callable[[], None]):
        self.mem, self.embed, self.size, self.committed = mem, embed, size, committed
        self.items: List[dict] = []
        self.positions: Dict[str, Position] = {}

    def add(self, items: List[dict]) -> None:
        self.items.extend(items)

    def move(self, key: str, position: Position) -> None:
        self.positions[key] = position
        if len(self.items) >= self.size:
            self.commit()

    def commit(self) -> None:
        if self.items or self.positions:
            self.mem.remember_at(self.items, {k: p.to_json() for k, p in self.positions.items()},
                                 embed=self.embed)
        self.items, self.positions = [], {}
        self.committed()


class _Known:
    """The message ids a thread already holds, read only for files read from their start. Held only
    until the batch commits (clear()): the store answers for what is committed, so the memory held
    is one batch's ids, not every id of the folder."""

    def __init__(self, mem):
        self.mem = mem
        self.ids: Dict[str, Set[str]] = {}

    def clear(self) -> None:
        self.ids.clear()

    def has(self, thread: str, uuid: str) -> bool:
        if thread not in self.ids:   # expired ones too: a re-read never brings back what expired
            self.ids[thread] = {str(m.metadata.get("uuid")) for m in self.mem.iter(thread=thread, include_expired=True)}
        return uuid in self.ids[thread]

    def add(self, thread: str, uuid: str) -> None:
        if thread in self.ids:
            self.ids[thread].add(uuid)


def capture(mem, fmt: Format, root: Optional[str] = None, *, embed: str = "now", batch_size: int = BATCH,
            progress: Optional[Callable[[int], None]] = None, prune: bool = False) -> CaptureSummary:
    """Bring what is new in the transcripts under root (a file or a folder) into `mem` (a Memento).
    prune=True first forgets the memories of the files under root that were read before and are
    gone (prune_vanished); otherwise they are kept, and counted (summary.vanished)."""
    root = os.path.abspath(os.path.expanduser(root if root is not None else fmt.default_root()))
    summary = CaptureSummary(fmt.source, root)
    if not os.path.exists(root):
        raise InvalidInputError(f"{root}: no such file or folder (the {fmt.source} transcripts; to forget "
                                "the memories of transcripts that are gone, name a folder that still exists)")
    prefix = f"position:{fmt.source}:"
    # One file (the hook): its own position is all this run reads, unless prune looks for other
    # files sharing its threads; a folder: every position of the source, in one range read.
    recorded = mem.positions(prefix + root if os.path.isfile(root) and not prune else prefix)
    gone = vanished(recorded, prefix, root)
    summary.vanished = len(gone)
    if prune:
        summary.forgotten = prune_vanished(mem, recorded, prefix, gone)
    known = _Known(mem)
    batch = _Batch(mem, embed, batch_size, known.clear)
    for path, reason in find_files(root):
        if reason is not None:
            summary.skipped.append(Skipped(path, reason))
        else:
            _capture_file(path, prefix + path, recorded.get(prefix + path), fmt, batch, known, summary)
        if progress:
            progress(1)
    batch.commit()
    return summary


def vanished(recorded: Dict[str, str], prefix: str, root: str) -> List[str]:
    """The position keys of the files under root (or root itself) that were read before and are
    gone. A file that cannot be looked at (a folder without permission) is not gone."""
    inside = root if root.endswith(os.sep) else root + os.sep
    gone = []
    for key in recorded:
        path = key[len(prefix):]
        if path != root and not path.startswith(inside):
            continue
        try:
            os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            gone.append(key)
        except OSError:
            pass
    return gone


def prune_vanished(mem, recorded: Dict[str, str], prefix: str, gone: List[str]) -> int:
    """Forget the memories each vanished file added (their metadata names the file), with its
    position, one transaction per file (Memento.forget_at). They are found through the threads its
    position lists, by the thread index, never by reading every memory. Another file holding lines
    of the same threads (Claude Code writes a resumed session's history into the new session's file)
    loses its position in that transaction and is read again from its start, so those lines come back
    as its own. Drops what it removes from `recorded`; returns how many memories were forgotten."""
    forgotten = 0
    for key in gone:
        path, position = key[len(prefix):], Position.from_json(recorded.get(key))
        ids, touched = [], set()
        for thread in position.threads if position else ():
            for memory in mem.iter(thread=thread, include_expired=True):
                if memory.metadata.get("file") == path:
                    ids.append(memory.id)
                    touched.add(thread)
        sharing = [k for k, v in recorded.items()
                   if k != key and k not in gone and touched.intersection(_threads_of(v))]
        forgotten += mem.forget_at(ids, {k: None for k in [key, *sharing]})
        for k in [key, *sharing]:
            recorded.pop(k, None)
    return forgotten


def _threads_of(recorded: Optional[str]) -> Tuple[str, ...]:
    position = Position.from_json(recorded)
    return position.threads if position else ()


def _capture_file(path: str, key: str, recorded: Optional[str], fmt: Format, batch: _Batch, known: _Known,
                  summary: CaptureSummary) -> None:
    old = Position.from_json(recorded)
    try:
        info = os.lstat(path)
    except OSError as e:
        summary.skipped.append(Skipped(path, f"cannot stat: {e.strerror or e}"))
        return
    if old is not None and (old.dev, old.ino, old.offset, old.mtime_ns) == (
            info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns):
        summary.unchanged += 1  # nothing new: the file is not even opened
        return
    try:
        fd, info = open_file(path)
    except Unreadable as e:
        summary.skipped.append(Skipped(path, str(e)))
        return
    try:
        _read_file(fd, info, path, key, old, fmt, batch, known, summary)
    except OSError as e:        # a read error halfway: what was read before it stays, with its position
        summary.skipped.append(Skipped(path, f"cannot read: {e.strerror or e}"))
    finally:
        os.close(fd)


def _read_file(fd: int, info: os.stat_result, path: str, key: str, old: Optional[Position], fmt: Format,
               batch: _Batch, known: _Known, summary: CaptureSummary) -> None:
    start = start_of(fd, info, old)
    fresh = start == 0
    summary.files += 1
    summary.reread += old is not None and fresh and old.offset > 0
    threads = old.threads if old and not fresh else ()
    position = Position(info.st_dev, info.st_ino, start, info.st_mtime_ns,
                        old.tail_len if old and not fresh else 0, old.tail_sha if old and not fresh else "", threads)
    found: Counter = Counter()
    first = fresh
    for line, end, problem in lines_from(fd, start):
        summary.lines += 1
        event, problem = (None, problem) if line is None else event_of(line)
        if first and line is not None and line.strip():
            first = False
            if event is None or not isinstance(event.get("type"), str):
                summary.skipped.append(Skipped(path, f"not a {fmt.source} transcript (first line: "
                                                     f"{problem or 'no type field'})"))
                return          # no position: nothing of it is stored, it is looked at again next time
        if problem is not None:
            _bad(summary, path, end, problem)
        elif event is not None:
            thread = _take(event, path, end, fmt, batch, known, summary, found, fresh)
            if thread is not None and thread not in threads:
                threads = tuple(sorted({*threads, thread}))
        position = Position(info.st_dev, info.st_ino, end, info.st_mtime_ns, *tail_of(fd, line, end), threads)
        batch.move(key, position)
    if position.offset > 0:
        batch.move(key, position)   # mtime recorded even when no line was new
    for kind, n in found.items():
        summary.redacted[kind] = summary.redacted.get(kind, 0) + n


def _take(event: dict, path: str, end: int, fmt: Format, batch: _Batch, known: _Known,
          summary: CaptureSummary, found: Counter, fresh: bool) -> Optional[str]:
    """One event: stored if it is a message not stored yet; a refused one is a bad line. Returns the
    message's thread (None: not a message), stored or found stored already."""
    message = fmt.parse(event, path)
    if message is None:
        return None
    if fresh and known.has(message.thread, message.uuid):
        summary.already += 1
        return message.thread
    kinds: Counter = Counter()
    try:
        items = [validate.new_memory(item, None) for item in items_of(message, kinds, path)]
    except InvalidInputError as e:
        _bad(summary, path, end, str(e))
        return None
    if not items:
        return None
    found.update(kinds)
    known.add(message.thread, message.uuid)
    batch.add(items)
    summary.messages += 1
    summary.added += len(items)
    return message.thread


def _bad(summary: CaptureSummary, path: str, end: int, reason: str) -> None:
    summary.bad_lines += 1
    if len(summary.bad) < 20:
        summary.bad.append(Skipped(f"{path} (line ending at byte {end:,})", reason))
