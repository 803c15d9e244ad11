"""OpenClaw's memory in: the Markdown files of an OpenClaw workspace, chunked into memories.

What OpenClaw indexes is what we read: MEMORY.md and memory.md at the workspace root and every .md
under memory/, recursively, never following a symlink. OpenClaw's managed blocks
(`<!-- openclaw:dreaming:<name>:start -->` ... `:end -->`) are its own bookkeeping and are dropped.
A file is split on Markdown structure (headings, paragraphs, list items, fenced code) into chunks of
at most CHUNK_CHARS characters; a line is cut only when it alone is longer.

Each chunk is a memory tagged `openclaw` plus `long-term` (MEMORY.md / memory.md) or `daily`
(memory/YYYY-MM-DD*.md), with its origin as metadata {source, workspace, path, start_line, end_line,
sha256 (of the chunk text)} (formats/provenance.py), and its file (of its workspace) as its thread.
A rerun adds nothing: a chunk whose origin is stored already stays as it is; another workspace's files
are other origins, whatever their names. A changed file gets its new chunks in one transaction, then
its old chunks are forgotten; a crash in between leaves old chunks next to new ones, and the next run
forgets them. Chunks of a deleted file go only with prune=True; a file or folder that could not be
read is reported, never taken for deleted. Chunks stored before workspaces were recorded (no
`workspace`) are claimed, file by file, by the first workspace imported that has their path.

Files written by formats/markdown.py come back exactly (text, time, tags); an item of such a file
that is a memory of this store (its id, its text) is not stored again.
"""
from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Tuple

from .. import files
from ..errors import InvalidInputError, MemoryNotFoundError
from ..values import Memory
from . import markdown, provenance

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
    exported_id: Optional[int] = None         # an export's item: its id in the store it came from

    @property
    def sha256(self) -> str:
        return provenance.content_hash(self.text)


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
class Found:
    """What the walk found: a file to read (skip None), or a path it does not read and why."""
    path: str
    skip: Optional[str] = None
    unreadable: bool = False     # a folder that could not be listed (--strict stops for it)


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
    """A directory holding MEMORY.md, memory.md or memory/ (what auto-detection looks for). A folder
    that cannot be listed is taken for one: it is no JSON Lines file, and the import says why it
    cannot be read."""
    path = Path(path)
    if not path.is_dir():
        return False
    try:
        names = set(os.listdir(path))
    except OSError:
        return True
    return any(name in names for name in (*ROOT_FILES, "memory"))


def find_files(root: Path) -> Iterator[Found]:
    """Every file to read, and every path not read (a symlink, a folder that cannot be listed, an
    export's staging) with the reason. InvalidInputError when the workspace itself cannot be listed."""
    try:
        with os.scandir(root) as entries:
            names = sorted(e.name for e in entries)
    except OSError as e:
        raise InvalidInputError(f"cannot read the workspace {root}: {e.strerror or e}") from None
    for name in names:
        if name in ROOT_FILES:
            yield Found(name, "symlink (not followed)" if os.path.islink(root / name) else None)
    memory_dir = root / "memory"
    if os.path.islink(memory_dir):
        yield Found("memory", "symlink (not followed)")
    elif os.path.lexists(memory_dir):
        yield from _walk(root, memory_dir)


def _walk(root: Path, memory_dir: Path) -> Iterator[Found]:
    """The .md files under memory/; a folder the walk cannot list is reported, never passed over."""
    errors: List[OSError] = []
    for folder, dirs, names in os.walk(memory_dir, onerror=errors.append, followlinks=False):
        yield from _unlisted(root, errors)
        dirs.sort()
        for d in list(dirs):
            full = os.path.join(folder, d)
            if os.path.islink(full) or files.is_staging(d):
                dirs.remove(d)
                yield Found(_relative(root, full), "symlink (not followed)" if os.path.islink(full)
                            else "staging of an unfinished export (not read)")
        for name in sorted(names):
            if name.endswith(".md"):
                full = os.path.join(folder, name)
                yield Found(_relative(root, full), "symlink (not followed)" if os.path.islink(full) else None)
    yield from _unlisted(root, errors)


def _unlisted(root: Path, errors: List[OSError]) -> Iterator[Found]:
    for error in errors:
        yield Found(_relative(root, error.filename), f"cannot read folder: {error.strerror or error}", True)
    errors.clear()


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
        chunks = [Chunk(item.text, item.start_line, item.end_line, item.created_at, item.tags, item.id)
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

FORMAT = "openclaw"      # every chunk's metadata "source"; its origin is recorded by provenance.py


def import_workspace(mem, root: Path, *, prune: bool = False, strict: bool = False, embed: str = "now",
                     progress: Optional[Callable[[int], None]] = None) -> ImportSummary:
    """Bring a workspace's memory files into `mem` (a Memento). See the module docstring."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise InvalidInputError(f"{root} is not a folder (an OpenClaw workspace holds MEMORY.md and memory/)")
    listed = list(find_files(root))
    if strict:
        _check_readable(root, listed)    # a first pass that only reads: a bad file aborts before any write
    run = _Run(mem, root, strict, embed)
    run.skipped += [Skipped(found.path, found.skip) for found in listed if found.skip is not None]
    for found in listed:
        if found.skip is None:
            run.import_file(found.path)
            if progress:
                progress(1)
    if prune:
        run.prune()
    return ImportSummary(str(root), run.files, run.added, run.unchanged, run.replaced, run.removed,
                         tuple(run.skipped))


def _check_readable(root: Path, listed: List[Found]) -> None:
    for found in listed:
        reason = found.skip if found.unreadable else None
        if found.skip is None:
            try:
                read_source(root, found.path)
            except UnreadableFile as e:
                reason = str(e)
        if reason:
            raise InvalidInputError(f"{root / found.path}: {reason} (--strict: nothing was imported)")


class _Run:
    """One import of one workspace: what the store held of its files, and the counts."""

    def __init__(self, mem, root: Path, strict: bool, embed: str):
        self.mem, self.root, self.strict, self.embed = mem, root, strict, embed
        self.source = provenance.identity(root)
        self.stored = provenance.by_file(mem.iter(tags=[TAG]), FORMAT)
        self.skipped: List[Skipped] = []
        self.files = self.added = self.unchanged = self.replaced = self.removed = 0

    def import_file(self, path: str) -> None:
        """A file's new chunks added (one transaction), then its chunks no longer there forgotten."""
        try:
            source = read_source(self.root, path)
        except UnreadableFile as e:
            self._skip(path, str(e))
            return
        self.files += 1
        old = self._stored_chunks(path)
        new_items = []
        for chunk in source.chunks:
            if self._already_stored(source, chunk, old):
                self.unchanged += 1
            else:
                new_items.append(_item(source, chunk, self.source))
        if new_items and not self._add(path, new_items):
            return                      # refused: the file is skipped and its old chunks stay
        for leftovers in old.values():  # old chunks of a changed file, or duplicates of a killed run
            for _, memory in leftovers:
                _forget_quietly(self.mem, memory.id)
                self.replaced += 1

    def _stored_chunks(self, path: str) -> Dict[provenance.Place, List[Tuple[provenance.Origin, Memory]]]:
        """This file's chunks in the store by place: this workspace's first, then legacy chunks of the
        same path (imported before sources were recorded), which this workspace claims."""
        old: Dict[provenance.Place, List[Tuple[provenance.Origin, Memory]]] = {}
        for origin, memory in self.stored.pop((self.source, path), []) + self.stored.pop((None, path), []):
            old.setdefault(origin.place, []).append((origin, memory))
        return old

    def _already_stored(self, source: SourceFile, chunk: Chunk, old) -> bool:
        """Stored from this place (a legacy chunk gets this workspace recorded), or an export's item
        that is a memory of this store."""
        same = old.get((source.path, chunk.start_line, chunk.end_line, chunk.sha256))
        if same:
            origin, memory = same.pop(0)
            if origin.source is None:
                provenance.claim(self.mem, memory, _origin(source, chunk, self.source), FORMAT)
            return True
        return provenance.from_this_store(self.mem, chunk.exported_id, chunk.text, chunk.created_at)

    def _add(self, path: str, items: List[dict]) -> bool:
        try:
            # One transaction: the file's new chunks. Each chunk is its own memory, found again by its
            # origin (provenance.py): equal chunks are not merged.
            self.mem.remember_many(items, embed=self.embed, dedup=False)
        except InvalidInputError as e:
            self._skip(path, str(e))
            return False
        self.added += len(items)
        return True

    def _skip(self, path: str, reason: str) -> None:
        if self.strict:
            raise InvalidInputError(f"{self.root / path}: {reason} (--strict: stopped here)")
        self.skipped.append(Skipped(path, reason))

    def prune(self) -> None:
        """Forget this workspace's chunks of files that are gone. A path skipped by this run (a
        symlink, a file or folder that could not be read) is not gone: its chunks stay, and so do the
        chunks of every file under a skipped folder. Legacy chunks no file claimed may be another
        workspace's: they stay too. Chunks read from an interrupted export's staging (by versions
        that read it) are partial copies of the export, never notes: they go."""
        kept = [s.path for s in self.skipped]
        for (source, path), chunks in self.stored.items():
            if _staged_copy(path):
                gone = source in (self.source, None)
            else:
                gone = source == self.source and not any(path == k or path.startswith(k + "/") for k in kept)
            for _, memory in chunks if gone else ():
                _forget_quietly(self.mem, memory.id)
                self.removed += 1


def _staged_copy(path: str) -> bool:
    return any(files.is_staging(folder) for folder in path.split("/")[:-1])


def _origin(source: SourceFile, chunk: Chunk, workspace: str) -> provenance.Origin:
    return provenance.Origin(workspace, source.path, chunk.start_line, chunk.end_line, chunk.sha256)


def _item(source: SourceFile, chunk: Chunk, workspace: str) -> dict:
    origin = _origin(source, chunk, workspace)
    tags = [TAG] + ([source.kind] if source.kind else []) + [t for t in chunk.tags if t not in (TAG, source.kind)]
    # thread = the file: a chunk's neighbours in its file lend it context in recall.
    return {"text": chunk.text, "tags": tags, "created_at": chunk.created_at or source.created_at,
            "thread": origin.thread(), "metadata": origin.metadata(FORMAT)}


def _forget_quietly(mem, memory_id: int) -> None:
    try:
        mem.forget(memory_id)
    except MemoryNotFoundError:
        pass                             # another importer got there first
