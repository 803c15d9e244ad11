"""The values memento hands back: frozen dataclasses, never dicts of anything."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple


@dataclass(frozen=True)
class Memory:
    id: int
    text: str
    tags: Tuple[str, ...]
    metadata: Dict[str, Any] = field(hash=False)
    created_at: str                 # ISO-8601 UTC, e.g. 2026-11-25T05:43:17.123Z
    updated_at: str
    pinned: bool
    embedded_with: Optional[str]    # model id of its vector; None = keyword-only or not yet embedded
    thread: Optional[str] = None    # the sequence it belongs to (a conversation, a log); None = none

    @classmethod
    def from_row(cls, row) -> "Memory":
        id_, text, tags, metadata, created_at, updated_at, pinned, embedded_with, thread = row
        return cls(id_, text, tuple(json.loads(tags)), json.loads(metadata),
                   created_at, updated_at, bool(pinned), embedded_with, thread)


@dataclass(frozen=True)
class Neighbour:
    """A memory next to a hit in its thread (recall(..., context=n))."""
    id: int
    text: str
    offset: int                     # -1: the memory just before the hit, 1: just after, ...


@dataclass(frozen=True)
class Hit:
    id: int
    text: str
    tags: Tuple[str, ...]
    metadata: Dict[str, Any] = field(hash=False)
    created_at: str
    score: float                    # higher is better; comparable within one recall only
    thread: Optional[str] = None
    context: Tuple[Neighbour, ...] = ()  # its thread neighbours, when recall(..., context=n) asked

    @classmethod
    def from_row(cls, row) -> "Hit":
        id_, text, tags, metadata, created_at, score, thread = row
        return cls(id_, text, tuple(json.loads(tags)), json.loads(metadata), created_at, float(score), thread)


@dataclass(frozen=True)
class Stats:
    path: str
    tier: str
    memories: int
    tags: int
    pending_embeddings: int         # rows a vector tier has not embedded yet (see backfill())
    oldest: Optional[str]
    newest: Optional[str]
    file_bytes: int                 # the store file plus its -wal file
    schema_version: int
    model: Optional[str]
    sqlite_version: str
