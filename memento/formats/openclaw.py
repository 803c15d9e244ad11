"""OpenClaw's memory in: the Markdown files of an OpenClaw workspace, chunked into memories.

What OpenClaw indexes is what we read: MEMORY.md and memory.md at the workspace root and every .md
under memory/, recursively, never following a symlink. OpenClaw's managed blocks
(`<!-- openclaw:dreaming:<name>:start -->` ... `:end -->`) are its own bookkeeping and are dropped.
A file is split on Markdown structure (headings, paragraphs, list items, fenced code) into chunks of
at most CHUNK_CHARS characters; a line is cut only when it alone is longer.

Each chunk is a memory tagged `openclaw` plus `long-term` (MEMORY.md / memory.md) or `daily`
(memory/YYYY-MM-DD*.md), with metadata {source, path, start_line, end_line, sha256 (of the chunk
text)}. A rerun adds nothing: a chunk whose (path, lines, sha256) is already stored stays as it is.
A changed file gets its new chunks in one transaction, then its old chunks are forgotten; a crash in
between leaves old chunks next to new ones, and the next run forgets them. Chunks of a deleted file
go only with prune=True. Files written by formats/markdown.py come back exactly (text, time, tags).
"""
from __future__ import annotations

import hashlib
import os
import re
import stat
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Tuple

from ..errors import InvalidInputError
from . import markdown

CHUNK_CHARS = 1_600
MAX_FILE_BYTES = 64 * 1024 * 1024    # a Markdown note larger than this is not a note
ROOT_FILES = ("MEMORY.md", "memory.md")
TAG, LONG_TERM, DAILY = "openclaw", "long-term", "daily"

_DAILY_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})")
_HEADING = re.compile(r"^ {0,3}#{1,6}(\s|$)")
_LIST_ITEM = re.compile(r"^ {0,3}([-*+]|\d{1,9}[.)])(\s|$)")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_DREAM_START = re.compile(r"^\s*<!--\s*openclaw:dreaming:([\w.-]+):start\s*-->\s*$")
_DREAM_END = "<!-- openclaw:dreaming:{}:end -->"


@dataclass(frozen=True)
class Chunk:
    text: str
    start_line: int     # 1-based, inclusive, in the file as it is on disk
    end_line: int
    created_at: Optional[str] = None          # set for items of a memento Markdown export
    tags: Tuple[str, ...] = ()

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class SourceFile:
    path: str           # relative to the workspace, with / separators
    kind: Optional[str]  # LONG_TERM, DAILY or None
    created_at: str
    chunks: Tuple[Chunk, ...]


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


@dataclass(frozen=True)
class ImportSummary:
    workspace: str
    files: int          # files read and imported (or found unchanged)
    added: int          # chunks stored by this run
    unchanged: int      # chunks already stored, left as they were
    replaced: int       # old chunks of changed files, forgotten
    removed: int        # chunks of deleted files, forgotten (prune)
    skipped: Tuple[Skipped, ...] = field(default=())


class UnreadableFile(Exception):
    pass


# -- finding and reading files -------------------------------------------------------------------

def default_workspace() -> Path:
    return Path.home() / ".openclaw" / "workspace"


def is_workspace(path: Path) -> bool:
    """A directory holding MEMORY.md, memory.md or memory/ (what auto-detection looks for)."""
    path = Path(path)
    return path.is_dir() and any((path / name).exists() for name in (*ROOT_FILES, "memory"))


def find_files(root: Path) -> Iterator[Tuple[str, Optional[str]]]:
    """(relative path, None) for each file to read, or (relative path, reason) for one skipped."""
    with os.scandir(root) as entries:
        names = sorted(e.name for e in entries)
    for name in names:
        if name in ROOT_FILES:
            yield name, ("symlink (not followed)" if os.path.islink(root / name) else None)
    memory_dir = root / "memory"
    if os.path.islink(memory_dir):
        yield "memory", "symlink (not followed)"
        return
    if not memory_dir.is_dir():
        return
    for folder, dirs, files in os.walk(memory_dir, followlinks=False):
        dirs.sort()
        for d in list(dirs):
            if os.path.islink(os.path.join(folder, d)):
                dirs.remove(d)
                yield _relative(root, os.path.join(folder, d)), "symlink (not followed)"
        for name in sorted(files):
            if name.endswith(".md"):
                full = os.path.join(folder, name)
                yield _relative(root, full), ("symlink (not followed)" if os.path.islink(full) else None)


def _relative(root: Path, full: str) -> str:
    return Path(os.path.relpath(full, root)).as_posix()


def read_source(root: Path, relative: str) -> SourceFile:
    """Read, decode and chunk one file; UnreadableFile says why it cannot be imported."""
    full = root / relative
    try:
        # O_NOFOLLOW: a file swapped for a symlink after the walk is refused, not followed;
        # O_NONBLOCK: a FIFO named *.md cannot hang the import.
        fd = os.open(full, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError as e:
        raise UnreadableFile(f"cannot open: {e.strerror or e}") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise UnreadableFile("not a regular file")
        if info.st_size > MAX_FILE_BYTES:
            raise UnreadableFile(f"{info.st_size:,} bytes; the limit is {MAX_FILE_BYTES:,}")
        try:
            data = handle.read(MAX_FILE_BYTES + 1)
        except OSError as e:
            raise UnreadableFile(f"cannot read: {e.strerror or e}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise UnreadableFile(f"not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start:,})") from None
    if "\x00" in text:
        raise UnreadableFile("contains NUL bytes (a binary file?)")
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    name = relative.rsplit("/", 1)[-1]
    day = _day_of(name) if relative.startswith("memory/") else None
    kind = LONG_TERM if relative in ROOT_FILES else DAILY if day else None
    created_at = day + "T00:00:00.000Z" if day else _utc(info.st_mtime)
    if any(line.strip() == markdown.EXPORT_MARK for line in lines[:3]):
        chunks = [Chunk(item.text, item.start_line, item.end_line, item.created_at, item.tags)
                  for item in markdown.parse_items(lines) if item.text.strip()]
    else:
        chunks = chunk_lines(drop_managed_blocks(lines))
    return SourceFile(relative, kind, created_at, tuple(chunks))


def _day_of(name: str) -> Optional[str]:
    match = _DAILY_NAME.match(name)
    if not match:
        return None
    try:
        datetime.strptime(match.group(1), "%Y-%m-%d")
    except ValueError:
        return None
    return match.group(1)


def _utc(seconds: float) -> str:
    moment = datetime.fromtimestamp(seconds, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# -- chunking ------------------------------------------------------------------------------------

def drop_managed_blocks(lines: List[str]) -> List[Optional[str]]:
    """The lines with OpenClaw's managed blocks blanked out (None), numbering kept. A block whose end
    marker is missing runs to the end of the file (it is still OpenClaw's, not the user's)."""
    out: List[Optional[str]] = list(lines)
    i = 0
    while i < len(out):
        match = _DREAM_START.match(out[i] or "")
        if match:
            end = _DREAM_END.format(match.group(1))
            j = i
            while j < len(out) and (out[j] or "").strip() != end:
                out[j] = None
                j += 1
            if j < len(out):
                out[j] = None
            i = j
        i += 1
    return out


def _blocks(lines: List[Optional[str]]) -> Iterator[Tuple[int, int, bool]]:
    """(first, last, is_heading) line indexes of each Markdown block: a heading, a paragraph, a list
    item with its indented continuation, or a fenced code block (blank lines inside kept)."""
    i, n = 0, len(lines)
    while i < n:
        line = lines[i]
        if line is None or not line.strip():
            i += 1
            continue
        if _HEADING.match(line):
            yield i, i, True
            i += 1
            continue
        start = i
        if _FENCE.match(line):
            fence = _FENCE.match(line).group(1)
            i += 1
            while i < n and lines[i] is not None and not (lines[i] or "").lstrip().startswith(fence):
                i += 1
            yield start, min(i, n - 1), False
            i += 1
            continue
        item = bool(_LIST_ITEM.match(line))
        i += 1
        while i < n:
            nxt = lines[i]
            if nxt is None or not nxt.strip() or _HEADING.match(nxt) or _FENCE.match(nxt):
                break
            if _LIST_ITEM.match(nxt) and not (item and nxt.startswith("  ")):
                break                      # the next item (a nested one stays with its parent)
            i += 1
        yield start, i - 1, False


def chunk_lines(lines: List[Optional[str]], limit: int = CHUNK_CHARS) -> List[Chunk]:
    """Pack blocks into chunks of at most `limit` characters; a heading starts a new chunk."""
    pieces: List[Tuple[int, int, str, bool]] = []       # (start, end, text, is_heading), lines 1-based
    for first, last, heading in _blocks(lines):
        body = [(k, lines[k] or "") for k in range(first, last + 1) if lines[k] is not None]
        text = "\n".join(line for _, line in body)
        if len(text) <= limit:
            pieces.append((first + 1, last + 1, text, heading))
            continue
        pieces.extend(_split_long_block(body, limit))
    chunks: List[Chunk] = []
    current: List[Tuple[int, int, str, bool]] = []

    def flush() -> None:
        if current:
            text = "\n\n".join(p[2] for p in current).strip()
            if text:
                chunks.append(Chunk(text, current[0][0], current[-1][1]))
            current.clear()

    for piece in pieces:
        size = sum(len(p[2]) + 2 for p in current) + len(piece[2])
        only_headings = all(p[3] for p in current)
        if current and (size > limit or (piece[3] and not only_headings)):
            flush()
        current.append(piece)
    flush()
    return chunks


def _split_long_block(body: List[Tuple[int, str]], limit: int) -> Iterator[Tuple[int, int, str, bool]]:
    """A block over the limit: whole lines packed up to the limit; a line over it cut into pieces."""
    group: List[Tuple[int, str]] = []
    for k, line in body:
        if len(line) > limit:
            if group:
                yield group[0][0] + 1, group[-1][0] + 1, "\n".join(x for _, x in group), False
                group = []
            for cut in range(0, len(line), limit):
                yield k + 1, k + 1, line[cut:cut + limit], False
            continue
        if group and sum(len(x) + 1 for _, x in group) + len(line) > limit:
            yield group[0][0] + 1, group[-1][0] + 1, "\n".join(x for _, x in group), False
            group = []
        group.append((k, line))
    if group:
        yield group[0][0] + 1, group[-1][0] + 1, "\n".join(x for _, x in group), False


# -- importing -----------------------------------------------------------------------------------

def _key(path: str, start: int, end: int, sha: str) -> Tuple[str, int, int, str]:
    return path, start, end, sha


def import_workspace(mem, root: Path, *, prune: bool = False, strict: bool = False, embed: str = "now",
                     progress: Optional[Callable[[int], None]] = None) -> ImportSummary:
    """Bring a workspace's memory files into `mem` (a Memento). See the module docstring."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise InvalidInputError(f"{root} is not a folder (an OpenClaw workspace holds MEMORY.md and memory/)")
    listed = list(find_files(root))
    skipped = [Skipped(path, reason) for path, reason in listed if reason is not None]
    wanted = [path for path, reason in listed if reason is None]
    if strict:
        for path in wanted:     # a first pass that only reads: a bad file aborts before any write
            try:
                read_source(root, path)
            except UnreadableFile as e:
                raise InvalidInputError(f"{root / path}: {e} (--strict: nothing was imported)") from None

    stored: Dict[str, List] = {}
    for memory in mem.iter(tags=[TAG]):
        meta = memory.metadata
        if meta.get("source") == "openclaw" and isinstance(meta.get("path"), str):
            stored.setdefault(meta["path"], []).append(memory)

    added = unchanged = replaced = removed = files = 0
    for path in wanted:
        try:
            source = read_source(root, path)
        except UnreadableFile as e:
            if strict:
                raise InvalidInputError(f"{root / path}: {e} (--strict: stopped here)") from None
            skipped.append(Skipped(path, str(e)))
            if progress:
                progress(1)
            continue
        files += 1
        old = {}
        for memory in stored.pop(path, []):
            meta = memory.metadata
            key = _key(path, meta.get("start_line"), meta.get("end_line"), meta.get("sha256"))
            old.setdefault(key, []).append(memory)
        new_items = []
        for chunk in source.chunks:
            same = old.get(_key(path, chunk.start_line, chunk.end_line, chunk.sha256))
            if same:
                same.pop(0)              # already stored: kept as it is
                unchanged += 1
                continue
            new_items.append(_item(source, chunk))
        if new_items:
            try:
                # One transaction: the file's new chunks. Each chunk is its own memory, keyed by its
                # path, lines and hash (re-import finds it by them): equal chunks are not merged.
                mem.remember_many(new_items, embed=embed, dedup=False)
            except InvalidInputError as e:
                if strict:
                    raise InvalidInputError(f"{root / path}: {e} (--strict: stopped here)") from None
                skipped.append(Skipped(path, str(e)))
                continue
            added += len(new_items)
        for leftovers in old.values():  # old chunks of a changed file, or duplicates of a crashed run
            for memory in leftovers:
                _forget_quietly(mem, memory.id)
                replaced += 1
        if progress:
            progress(1)
    if prune:
        still_there = {s.path for s in skipped}     # unreadable or symlinked now, but not deleted
        for path, memories in stored.items():
            if path not in still_there:
                for memory in memories:
                    _forget_quietly(mem, memory.id)
                    removed += 1
    return ImportSummary(str(root), files, added, unchanged, replaced, removed, tuple(skipped))


def _item(source: SourceFile, chunk: Chunk) -> dict:
    tags = [TAG] + ([source.kind] if source.kind else []) + [t for t in chunk.tags if t not in (TAG, source.kind)]
    # thread = the file: a chunk's neighbours in its file lend it context in recall.
    return {"text": chunk.text, "tags": tags, "created_at": chunk.created_at or source.created_at,
            "thread": source.path,
            "metadata": {"source": "openclaw", "path": source.path, "start_line": chunk.start_line,
                         "end_line": chunk.end_line, "sha256": chunk.sha256}}


def _forget_quietly(mem, memory_id: int) -> None:
    from ..errors import MemoryNotFoundError
    try:
        mem.forget(memory_id)
    except MemoryNotFoundError:
        pass                             # another importer got there first
