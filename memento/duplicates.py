"""Exact duplicates: what makes two texts the same memory, their keys, merges and groups.

The store's insert pipeline (memento/insert.py) and Memento.duplicates()/merge_duplicates() call
these inside their write transactions; the SQL is in sql/queries/history.sql. Near-duplicates
(by vector) are memento/vectors/near_duplicates.py.
"""
from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

try:  # hashlib itself loads OpenSSL (~4 MB RSS natively, more on an emulated Pi) for one blake2b
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - a Python built without its own blake2
    from hashlib import blake2b

import apsw

from . import sqlfiles, validate
from .errors import InvalidInputError
from .strict_json import text_of

REKEY_BATCH = 1_000


def normalise(text: str) -> str:
    """What makes two texts the same memory: Unicode NFC, whitespace runs as one space, no
    leading/trailing whitespace. Case and punctuation still count ("Tea" is not "tea"). A stored
    text is read as text whatever the row holds (text_of: a BLOB typed in the sqlite3 shell)."""
    return " ".join(unicodedata.normalize("NFC", text_of(text)).split())


def text_key(text: str, normalised: Optional[str] = None) -> int:
    """A signed 64-bit hash of normalise(text): memories.text_key, the duplicate index."""
    digest = blake2b((normalised or normalise(text)).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def rekey(conn: apsw.Connection) -> int:
    """Compute the key of every memory that has none (older stores, rows inserted or edited in the
    sqlite3 shell: the 005 trigger clears a stale key). Caller's write transaction; returns how many."""
    done = 0
    while True:
        rows = conn.execute(sqlfiles.query("unkeyed_batch"), {"limit": REKEY_BATCH}).fetchall()
        for memory_id, text in rows:
            conn.execute(sqlfiles.query("set_text_key"), {"id": memory_id, "key": text_key(text)})
        done += len(rows)
        if len(rows) < REKEY_BATCH:
            return done


class CurrentTexts:
    """The current memories a batch of remembers may repeat, read in one query by key, then kept up
    to date as the batch inserts, merges and supersedes (inside the caller's write transaction, or a
    read-only look before it)."""

    def __init__(self, conn: apsw.Connection, keys: List[int], now: str):
        self._now = now
        self._by_mark: Dict[Tuple[str, Optional[str]], int] = {}
        rows = conn.execute(sqlfiles.query("current_by_keys"),
                            {"keys": json.dumps(sorted(set(keys))), "now": now}).fetchall()
        for memory_id, text, thread in rows:  # oldest first: the first one seen stays
            self._by_mark.setdefault((normalise(text), thread), memory_id)

    def find(self, normalised: str, thread: Optional[str]) -> Optional[int]:
        return self._by_mark.get((normalised, thread))

    def added(self, memory_id: int, normalised: str, thread: Optional[str], expires_at: Optional[str]) -> None:
        if expires_at is None or expires_at > self._now:
            self._by_mark.setdefault((normalised, thread), memory_id)

    def superseded(self, memory_id: int) -> None:
        for mark in [m for m, i in self._by_mark.items() if i == memory_id]:
            del self._by_mark[mark]


def merge_into(conn: apsw.Connection, memory_id: int, tags: str, metadata: str, pinned: bool,
               expires_at: Optional[str], now: str) -> tuple:
    """Fold a repeated remember into the memory it repeats: new tags appended, metadata keys merged
    (the newer value wins on a shared key), pinned if either was, the later expiry (never wins),
    updated_at bumped. Returns the memory's row."""
    old_tags, old_metadata = conn.execute(sqlfiles.query("tags_and_metadata"), {"id": memory_id}).fetchone()
    merged_tags = merge_tags(json.loads(old_tags), json.loads(tags))
    merged_metadata = validate.metadata({**json.loads(old_metadata), **json.loads(metadata)})
    if merged_tags != json.loads(old_tags):
        conn.execute(sqlfiles.query("set_tags"), {"id": memory_id, "tags": json.dumps(merged_tags, ensure_ascii=False)})
    return conn.execute(sqlfiles.query("merge_duplicate"), {
        "id": memory_id, "metadata": merged_metadata, "pinned": pinned, "expires_at": expires_at,
        "updated_at": now}).fetchone()


def merge_tags(old: List[str], new: List[str]) -> List[str]:
    merged = list(dict.fromkeys([*old, *new]))
    if len(merged) > validate.MAX_TAGS:
        raise InvalidInputError(f"merging the tags of a duplicate gives {len(merged)} tags; "
                                f"the limit is {validate.MAX_TAGS}")
    return merged


@dataclass(frozen=True)
class DuplicateGroup:
    """Memories with the same normalised text in the same thread: `keep` (the oldest id) and the rest."""
    keep: int
    others: Tuple[int, ...]
    text: str
    thread: Optional[str] = None
    similarity: Optional[float] = None   # near-duplicates: the lowest cosine linking the group


def exact_groups(conn: apsw.Connection, now: str) -> List[DuplicateGroup]:
    """Every group of current memories sharing a text (after normalisation) and a thread."""
    groups: Dict[Tuple[str, Optional[str]], List[Tuple[int, str]]] = {}
    for memory_id, text, thread in conn.execute(sqlfiles.query("duplicate_key_rows"), {"now": now}):
        groups.setdefault((normalise(text), thread), []).append((memory_id, text))
    out = []
    for (_, thread), members in groups.items():
        if len(members) > 1:
            ids = sorted(i for i, _ in members)
            out.append(DuplicateGroup(ids[0], tuple(ids[1:]), dict(members)[ids[0]], thread))
    return sorted(out, key=lambda g: g.keep)


def apply_group(conn: apsw.Connection, group: DuplicateGroup, now: str) -> None:
    """Merge a group into its oldest memory (in id order, so later values win) and delete the rest.
    Memories the deleted ones superseded now point at the kept one. Caller's write transaction."""
    for other in group.others:
        tags, metadata, pinned, expires_at = conn.execute(
            sqlfiles.query("merge_source"), {"id": other}).fetchone()
        merge_into(conn, group.keep, tags, metadata, bool(pinned), expires_at, now)
        conn.execute(sqlfiles.query("repoint_superseded"), {"old": other, "new": group.keep})
        conn.execute(sqlfiles.query("delete_memory"), {"id": other})
