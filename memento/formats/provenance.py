"""Where an imported memory came from: the one rule every importer follows.

An imported memory records its origin in its metadata: the format it came in (`source`), the identity
of what it was read from (`workspace`: the folder, resolved), the file's `path` there, the lines it
spans and the sha256 of its text. A memory is found again by its origin, so a rerun finds what it
stored and adds nothing, a second workspace with the same file names is another origin and replaces
nothing, an edited file's chunks no longer match their hash and are replaced, and a prune forgets
only memories of the source being imported.

An item naming one of this store's memories (the id an export wrote) and holding exactly that
memory's text and time came from this store: it is that memory and is not stored again, whatever form it
comes back in (a Markdown export read from a workspace, a JSON Lines export imported again).

Memories imported before sources were recorded have no `workspace`: their source is None (legacy).
An importer claims them for the source it reads (formats/openclaw.py says which).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple

from ..errors import InvalidInputError, MemoryNotFoundError
from ..validate import MAX_THREAD_CHARS, NewMemory
from ..values import Memory

FileKey = Tuple[Optional[str], str]       # (source identity, None for legacy; the file's path in it)
Place = Tuple[str, int, int, str]         # (path, start_line, end_line, sha256): a chunk in its source


@dataclass(frozen=True)
class Origin:
    source: Optional[str]    # the source's identity (see identity()); None: a legacy memory
    path: str                # the file, relative to the source, with / separators
    start_line: int          # 1-based, inclusive
    end_line: int
    sha256: str              # of the memory's text (content_hash)

    @property
    def file(self) -> FileKey:
        return self.source, self.path

    @property
    def place(self) -> Place:
        return self.path, self.start_line, self.end_line, self.sha256

    def metadata(self, fmt: str) -> Dict[str, Any]:
        return {"source": fmt, "workspace": self.source, "path": self.path, "start_line": self.start_line,
                "end_line": self.end_line, "sha256": self.sha256}

    def thread(self) -> str:
        """The file's thread, one per file of one source (neighbours in a file lend each other context;
        another workspace's file of the same name lends none). A name over the thread limit keeps its
        start and ends in a hash of the whole."""
        name = f"{self.source}/{self.path}"
        if len(name) <= MAX_THREAD_CHARS:
            return name
        return name[:MAX_THREAD_CHARS - 17] + "#" + hashlib.blake2b(name.encode("utf-8"), digest_size=8).hexdigest()


def identity(root: Path) -> str:
    """A source folder's identity: its absolute path with symlinks resolved (two ways to one folder
    are one source; a folder moved elsewhere is a new one)."""
    return str(Path(root).expanduser().resolve())


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def origin_of(memory: Memory, fmt: str) -> Optional[Origin]:
    """The origin recorded in a memory imported in format `fmt`; None for any other memory."""
    meta = memory.metadata
    if meta.get("source") != fmt or not isinstance(meta.get("path"), str):
        return None
    source = meta.get("workspace")
    return Origin(source if isinstance(source, str) else None, meta["path"], meta.get("start_line"),
                  meta.get("end_line"), meta.get("sha256"))


def by_file(memories: Iterable[Memory], fmt: str) -> Dict[FileKey, List[Tuple[Origin, Memory]]]:
    """The memories imported in format `fmt`, grouped by the file they came from."""
    found: Dict[FileKey, List[Tuple[Origin, Memory]]] = {}
    for memory in memories:
        origin = origin_of(memory, fmt)
        if origin is not None:
            found.setdefault(origin.file, []).append((origin, memory))
    return found


def claim(mem, memory: Memory, origin: Origin, fmt: str) -> None:
    """Record `origin` (with its source) in a legacy memory, keeping its id, text and vector."""
    mem.update(memory.id, metadata={**memory.metadata, **origin.metadata(fmt)}, thread=origin.thread())


def from_this_store(mem, item_id: Optional[int], text: str, created_at: Optional[str]) -> bool:
    """Whether an item naming `item_id` (an export's id) is that memory of this store: the same text
    and the same time. (The time tells it from another store's memory that got the same id and
    text: an import into a new store hands out the ids its export had.)"""
    if item_id is None or created_at is None:
        return False
    try:
        memory = mem.get(item_id)
    except (MemoryNotFoundError, InvalidInputError):     # gone, or an id no store could have given
        return False
    return memory.text == text and memory.created_at == created_at


def not_from_this_store(mem, items: Iterable[NewMemory], skipped: Callable[[NewMemory], None]) -> Iterator[NewMemory]:
    """The items that are not memories of this store already; skipped(item) is told of each other."""
    for item in items:
        if from_this_store(mem, item.id, item.text, item.created_at):
            skipped(item)
        else:
            yield item
