"""The values memento hands back: frozen dataclasses, never dicts of anything.

Rows are read defensively: the store is a file anyone can edit in the sqlite3 shell, so a BLOB or a
number where text belongs is read as text (doctor reports such rows), never a crash in the reader.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple

from .strict_json import text_of


def _optional_text(value: Any) -> Optional[str]:
    return None if value is None else text_of(value)


def _json(value: Any, kind: type, empty: Any) -> Any:
    """A JSON column (tags: an array, metadata: an object) as Python; what does not parse as the
    kind the schema promises reads as empty. That includes JSON nested deeper than Python's decoder
    goes (SQLite accepts up to 1,000 levels; memento itself writes at most validate.MAX_METADATA_DEPTH)."""
    try:
        parsed = json.loads(text_of(value))
    except (ValueError, RecursionError):
        return empty
    return parsed if isinstance(parsed, kind) else empty


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
    expires_at: Optional[str] = None     # ISO-8601 UTC; past it the memory is not recalled nor listed
    superseded_by: Optional[int] = None  # id of the memory that replaced it (maybe forgotten since)
    # remember() only: the id of the stored memory this text repeats (then equal to .id: nothing was
    # added; tags and metadata were merged into it). None: a new memory was stored.
    duplicate_of: Optional[int] = None
    speaker: Optional[str] = None        # who said or wrote it; None = not known

    @classmethod
    def from_row(cls, row, duplicate: bool = False) -> "Memory":
        id_, text, tags, metadata, created_at, updated_at, pinned, embedded_with, thread, *later = row
        expires_at, superseded_by, speaker = (list(later) + [None, None, None])[:3]
        return cls(id_, text_of(text), tuple(_json(tags, list, [])), _json(metadata, dict, {}),
                   text_of(created_at), text_of(updated_at), bool(pinned), _optional_text(embedded_with),
                   _optional_text(thread), _optional_text(expires_at), superseded_by,
                   id_ if duplicate else None, _optional_text(speaker))


@dataclass(frozen=True)
class Neighbour:
    """A memory next to a hit in its thread (recall(..., context=n))."""
    id: int
    text: str
    offset: int                     # -1: the nearest one before the hit that recall may return, 1: after, ...


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
    speaker: Optional[str] = None        # who said or wrote it; None = not known
    # The estimated probability (0..1) that this memory is what the query needs: comparable across
    # queries and falling down the list, unlike score (sql/queries/recall_parts.sql, part hits).
    relevance: float = 0.0

    @classmethod
    def from_row(cls, row) -> "Hit":
        """A hit from a recall statement's row (its trailing columns, relevance's inputs, are not kept)."""
        id_, text, tags, metadata, created_at, score, thread, speaker, relevance = row[:9]
        return cls(id_, text_of(text), tuple(_json(tags, list, [])), _json(metadata, dict, {}), text_of(created_at),
                   float(score), _optional_text(thread), speaker=_optional_text(speaker),
                   relevance=float(relevance))


@dataclass(frozen=True)
class Stats:
    path: str
    tier: str
    memories: int                   # current: what recall can return (count())
    superseded: int                 # replaced by a newer memory, not expired: recall leaves them out, list shows them
    expired: int                    # past expires_at, not pruned yet (`memento prune --expired`)
    tags: int
    pending_embeddings: int         # rows a vector tier has not embedded yet (see backfill())
    oldest: Optional[str]
    newest: Optional[str]
    file_bytes: int                 # the store file plus its -wal file
    schema_version: int
    model: Optional[str]
    sqlite_version: str
