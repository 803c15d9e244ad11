"""Checks on user input, run before anything is written. Each failure is an InvalidInputError."""
from __future__ import annotations

import json
import math
import re
import sys
import unicodedata
from array import array
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from typing import Any, Iterable, List, Mapping, Optional, Tuple, Union

from . import strict_json, time_cues, times
from .errors import InvalidInputError

MAX_TEXT_CHARS = 65_536        # a memory is a note, not a document; long texts embed truncated anyway
MAX_TAGS = 64
MAX_TAG_CHARS = 64
MAX_METADATA_BYTES = 65_536
MAX_METADATA_DEPTH = 32        # nesting levels of dicts/lists; deeper JSON breaks recursive readers
MAX_QUERY_CHARS = 8_192
MAX_K = 1_000
MAX_ID = 2**63 - 1             # SQLite's largest rowid; memento assigns ids from 1 up
MAX_THREAD_CHARS = 256
MAX_SPEAKER_CHARS = 256
MAX_CONTEXT = 10               # recall(context=n): neighbours on each side

_TAG_PUNCTUATION = frozenset("-_.:/")

Timestamp = Union[str, datetime, None]


def _utf8_clean(value: str, what: str) -> None:
    if "\x00" in value:
        raise InvalidInputError(f"{what} contains a NUL character (\\x00), which cannot be stored")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as e:
        raise InvalidInputError(f"{what} is not valid Unicode text (lone surrogate at {e.start})") from None


def text(value: Any, what: str = "text") -> str:
    """Memory text is stored exactly as given; it only has to be real, non-blank text."""
    if not isinstance(value, str):
        raise InvalidInputError(f"{what} must be a str, not {type(value).__name__}")
    if not value.strip():
        raise InvalidInputError(f"{what} is empty or only whitespace")
    if len(value) > MAX_TEXT_CHARS:
        raise InvalidInputError(f"{what} has {len(value):,} characters; the limit is {MAX_TEXT_CHARS:,}")
    _utf8_clean(value, what)
    return value


_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


def query(value: Any) -> str:
    """Any string is a valid query: characters that can never match stored text (NUL, lone
    surrogates) become spaces instead of errors."""
    if not isinstance(value, str):
        raise InvalidInputError(f"query must be a str, not {type(value).__name__}")
    if len(value) > MAX_QUERY_CHARS:
        raise InvalidInputError(f"query has {len(value):,} characters; the limit is {MAX_QUERY_CHARS:,}")
    return _UNSTORABLE.sub(" ", value)


def tag(value: Any) -> str:
    """Tags are case-insensitive words: stripped, case-folded, NFC. A letter or digit first, then
    letters, digits, combining marks (casefold("İ") is "i" + a combining dot) or - _ . : /"""
    if not isinstance(value, str):
        raise InvalidInputError(f"a tag must be a str, not {type(value).__name__}")
    _utf8_clean(value, "tag")
    normalized = unicodedata.normalize("NFC", unicodedata.normalize("NFC", value.strip()).casefold())
    if not normalized or len(normalized) > MAX_TAG_CHARS or not _is_tag_word(normalized):
        raise InvalidInputError(
            f"invalid tag {value!r}: use 1-{MAX_TAG_CHARS} letters, digits or - _ . : / "
            "(starting with a letter or digit, no spaces)")
    return normalized


def _is_tag_word(word: str) -> bool:
    return word[0].isalnum() and all(
        c.isalnum() or c in _TAG_PUNCTUATION or unicodedata.category(c).startswith("M") for c in word[1:])


def tags(values: Union[None, str, Iterable[str]]) -> List[str]:
    """A single string is one tag. Duplicates are dropped, first occurrence kept."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    if isinstance(values, (bytes, Mapping)) or not isinstance(values, Iterable):
        raise InvalidInputError(f"tags must be a list of strings, not {type(values).__name__}")
    out = list(dict.fromkeys(tag(v) for v in values))
    if len(out) > MAX_TAGS:
        raise InvalidInputError(f"{len(out)} tags; the limit is {MAX_TAGS}")
    return out


def metadata(value: Optional[Mapping[str, Any]]) -> str:
    """Metadata is a JSON object with string keys; returned serialized, ready to store."""
    if value is None:
        return "{}"
    if not isinstance(value, Mapping):
        raise InvalidInputError(f"metadata must be a dict, not {type(value).__name__}")
    if not all(isinstance(k, str) for k in value):
        raise InvalidInputError("metadata keys must all be strings")
    _check_depth(value)   # refuses cycles too: the only ValueError left below is a non-finite number
    try:
        encoded = json.dumps(dict(value), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except TypeError as e:
        raise InvalidInputError(f"metadata is not JSON-serializable: {e}") from None
    except ValueError:
        # An infinite number is stored as 1e999 (JSON that reads back as infinity: what SQLite keeps
        # of it, and what an export writes); NaN has no JSON form at all.
        if _holds_nan(value):
            raise InvalidInputError("metadata holds NaN, which JSON cannot represent") from None
        encoded = strict_json.dumps(dict(value), compact=True)
    _utf8_clean(encoded.replace("\\u0000", ""), "metadata")
    if len(encoded.encode("utf-8")) > MAX_METADATA_BYTES:
        raise InvalidInputError(f"metadata is over {MAX_METADATA_BYTES:,} bytes as JSON")
    return encoded


def _holds_nan(value: Any) -> bool:
    """Is there a NaN anywhere in this JSON value (depth already checked by _check_depth)?"""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and math.isnan(item):
            return True
        if isinstance(item, Mapping):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return False


def _check_depth(value: Mapping[str, Any]) -> None:
    """Refuse metadata nested deeper than MAX_METADATA_DEPTH, level by level without recursing (so
    a million levels, or a dict that contains itself, is an error rather than a RecursionError)."""
    level, seen = [value], 0
    for _ in range(MAX_METADATA_DEPTH):
        level = [child for node in level
                 for child in (node.values() if isinstance(node, Mapping) else node)
                 if isinstance(child, (Mapping, list, tuple))]
        seen += len(level)
        if not level:
            return
        if seen > MAX_METADATA_BYTES // 2:  # each container is at least 2 bytes of JSON ("{}")
            raise InvalidInputError(f"metadata is over {MAX_METADATA_BYTES:,} bytes as JSON")
    raise InvalidInputError(f"metadata is nested more than {MAX_METADATA_DEPTH} levels deep")


def thread(value: Any) -> Optional[str]:
    """A thread names a sequence (a conversation, a session, a file); None = no thread.
    Stored exactly as given: "Chat 1" and "chat 1" are two threads."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInputError(f"thread must be a str or None, not {type(value).__name__}")
    if not value.strip():
        raise InvalidInputError("thread is empty or only whitespace (use None for no thread)")
    if len(value) > MAX_THREAD_CHARS:
        raise InvalidInputError(f"thread has {len(value):,} characters; the limit is {MAX_THREAD_CHARS}")
    _utf8_clean(value, "thread")
    return value


# A capture format's name -> the first part of its threads, where the two differ: `memento import
# --format openclaw-sessions` stores threads openclaw/<agentId>/<sessionId>.
SOURCE_ALIASES = {"openclaw-sessions": "openclaw"}


def source(value: Any) -> Optional[str]:
    """recall's source filter: the threads under `value` + "/" (a captured session's thread starts
    with its source: claude-code/<sessionId>, openclaw/<agentId>/<sessionId>). A trailing "/" is
    dropped, a capture format's name is its threads' first part (SOURCE_ALIASES); None = no filter."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInputError(f"source must be a str or None, not {type(value).__name__}")
    value = value.rstrip("/")
    if not value.strip():
        raise InvalidInputError("source is empty (e.g. \"claude-code\" or \"openclaw\"; None for every source)")
    if len(value) > MAX_THREAD_CHARS:
        raise InvalidInputError(f"source has {len(value):,} characters; the limit is {MAX_THREAD_CHARS}")
    _utf8_clean(value, "source")
    return SOURCE_ALIASES.get(value, value)


def speaker(value: Any) -> Optional[str]:
    """Who said or wrote the memory (a name, "user", "assistant"); None = not known."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInputError(f"speaker must be a str or None, not {type(value).__name__}")
    value = value.strip()
    if not value:
        raise InvalidInputError("speaker is empty or only whitespace (use None for no speaker)")
    if len(value) > MAX_SPEAKER_CHARS:
        raise InvalidInputError(f"speaker has {len(value):,} characters; the limit is {MAX_SPEAKER_CHARS}")
    _utf8_clean(value, "speaker")
    return value


def context(value: Any) -> int:
    """recall(context=n): how many thread neighbours to return on each side of a hit."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInputError(f"context must be an int, not {type(value).__name__}")
    if not 0 <= value <= MAX_CONTEXT:
        raise InvalidInputError(f"context must be between 0 and {MAX_CONTEXT}, not {value}")
    return value


def flag(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInputError(f"{what} must be True or False, not {value!r}")
    return value


def k(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInputError(f"k must be an int, not {type(value).__name__}")
    if not 1 <= value <= MAX_K:
        raise InvalidInputError(f"k must be between 1 and {MAX_K}, not {value}")
    return value


def min_score(value: Any) -> Optional[float]:
    """recall(min_score=...): None (the tier's default floor) or a relevance from 0 to 1 (0: every hit)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise InvalidInputError(f"min_score must be a number from 0 to 1, not {value!r}")
    if not 0 <= value <= 1:
        raise InvalidInputError(f"min_score must be from 0 to 1 (a relevance), not {value!r}")
    return float(value)


def memory_id(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInputError(f"a memory id is an int, not {type(value).__name__}")
    if not 1 <= value <= MAX_ID:
        raise InvalidInputError(f"a memory id is between 1 and 2**63-1, not {value}")
    return value


def item_id(value: Any, what: str) -> Optional[int]:
    """An item's `id` or `superseded_by` (ids of the store it was exported from); None when absent."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise InvalidInputError(f"{what} must be a memory id (an int from 1 to 2**63-1), not {value!r}")
    return value


def positive_int(value: Any, what: str) -> int:
    """A count or size (batch_size, page_size): an int of at least 1."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInputError(f"{what} must be an int, not {type(value).__name__}")
    if value < 1:
        raise InvalidInputError(f"{what} must be at least 1, not {value}")
    if value > MAX_ID:  # SQLite's integers stop there: a bigger LIMIT would not even bind
        raise InvalidInputError(f"{what} must be at most 2**63-1, not {value}")
    return value


def timestamp(value: Timestamp, what: str) -> Optional[str]:
    """ISO-8601 text or a datetime -> fixed-width UTC text. Naive times are taken as UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise InvalidInputError(f"{what} {value!r} is not an ISO-8601 date/time") from None
    if not isinstance(value, datetime):
        raise InvalidInputError(f"{what} must be an ISO-8601 string or a datetime, not {type(value).__name__}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    try:
        return times.format_utc(value)
    except (OverflowError, ValueError):
        raise InvalidInputError(f"{what} {value.isoformat()} falls outside years 1-9999 in UTC") from None


NEVER = "never"   # expires_at="never": no expiry (update(expires_at="never") clears one; None keeps it)


def expiry(value: Timestamp) -> Optional[str]:
    """expires_at: like timestamp(), or "never" (any case) for no expiry, returned as None."""
    if isinstance(value, str) and value.strip().lower() == NEVER:
        return None
    return timestamp(value, "expires_at")


def time_window(since: Timestamp, until: Timestamp):
    lo, hi = timestamp(since, "since"), timestamp(until, "until")
    if lo is not None and hi is not None and lo > hi:
        raise InvalidInputError(f"since ({lo}) is after until ({hi})")
    return lo, hi


def finite_weight(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidInputError(f"{what} must be a finite number, not {value!r}")
    return float(value)


def vector(value: Any, dim: int, what: str = "vector") -> bytes:
    """A caller's embedding -> the stored form: `dim` float32s, little-endian, L2-normalized.
    Takes a sequence of numbers (list, tuple, array.array, numpy array) or raw float32 bytes."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        if len(raw) != 4 * dim:
            raise InvalidInputError(f"{what} has {len(raw)} bytes; this store's model needs {dim} float32s "
                                    f"({4 * dim} bytes)")
        floats = array("f")
        floats.frombytes(raw)
        if sys.byteorder == "big":
            floats.byteswap()
    elif isinstance(value, str) or not hasattr(value, "__len__"):
        raise InvalidInputError(f"{what} must be a sequence of {dim} numbers or float32 bytes, "
                                f"not {type(value).__name__}")
    else:
        if len(value) != dim:
            raise InvalidInputError(f"{what} has {len(value)} numbers; this store's model makes {dim}")
        try:
            floats = [float(x) for x in value]
        except (TypeError, ValueError):
            raise InvalidInputError(f"{what} must hold numbers only") from None
    if not all(math.isfinite(x) for x in floats):
        raise InvalidInputError(f"{what} holds NaN or infinity")
    norm = math.hypot(*floats)
    if norm == 0.0:
        raise InvalidInputError(f"{what} is all zeros (it has no direction to compare)")
    out = array("f", (x / norm for x in floats))
    if sys.byteorder == "big":
        out.byteswap()
    return out.tobytes()


@dataclass(frozen=True)
class NewMemory:
    """One memory checked and ready to insert: what remember(), remember_many() and importers hand
    the store. Build it with new_memory(); its field names are the keys an item dict may have, so a
    new field here (with its check in new_memory() and its column in insert_memory) is a new key."""
    text: str
    tags: Tuple[str, ...] = ()
    metadata: str = "{}"                  # a JSON object, serialized
    created_at: Optional[str] = None      # fixed-width UTC (format_utc); None: when it is stored
    pinned: bool = False
    vector: Optional[bytes] = None        # the stored form (see vector()); None: the model makes it
    thread: Optional[str] = None          # the sequence it belongs to (see thread()); None: none
    speaker: Optional[str] = None         # who said or wrote it (see speaker()); None: not known
    expires_at: Optional[str] = None      # fixed-width UTC; past it the memory is hidden (None: never)
    supersedes: Optional[int] = None      # the id of the memory this one replaces
    # An import's links (memento/import_ids.py): the id the memory had where it was exported from,
    # and the id (there) of the memory that superseded it; both are translated to this store's ids.
    id: Optional[int] = None
    superseded_by: Optional[int] = None

    def hidden(self, now: str) -> bool:
        """Stored already superseded or expired: history, never merged with a current memory."""
        return self.superseded_by is not None or (self.expires_at is not None and self.expires_at <= now)

    def insert_params(self, now: str) -> dict:
        """Named parameters of sql/queries/memories.sql insert_memory (the vector is stored apart;
        id None: the next free id, the store sets another for an import's kept id)."""
        return {"id": None, "text": self.text, "tags": json.dumps(list(self.tags), ensure_ascii=False),
                "metadata": self.metadata, "created_at": self.created_at or now, "updated_at": now,
                "pinned": self.pinned, "thread": self.thread, "expires_at": self.expires_at,
                "speaker": self.speaker, "time_cue": int(time_cues.mentions_time(self.text))}


ITEM_KEYS = frozenset(f.name for f in fields(NewMemory))


def new_memory(item: Any, dim: Optional[int]) -> NewMemory:
    """A text, or a dict with the keys of remember() -> a NewMemory. dim: the store's vector size,
    None when it is keyword-only (then an item may not carry a vector)."""
    if isinstance(item, NewMemory):
        if item.vector is not None:
            dim = _vector_allowed(dim)
            if len(item.vector) != 4 * dim:
                raise InvalidInputError(f"vector has {len(item.vector) // 4} numbers; this store's model makes {dim}")
        return item
    if isinstance(item, str):
        item = {"text": item}
    if not isinstance(item, Mapping):
        raise InvalidInputError(f"each item must be a str or a dict, not {type(item).__name__}")
    unknown = set(item) - ITEM_KEYS
    if unknown:
        raise InvalidInputError(f"unknown keys {sorted(map(str, unknown))}; allowed: {sorted(ITEM_KEYS)}")
    if "text" not in item:
        raise InvalidInputError("an item needs a 'text'")
    given_vector = item.get("vector")
    if given_vector is not None:
        _vector_allowed(dim)
    own, superseded_by = item_id(item.get("id"), "id"), item_id(item.get("superseded_by"), "superseded_by")
    if own is not None and own == superseded_by:
        raise InvalidInputError(f"superseded_by {own} is the item's own id: a memory cannot be superseded by itself")
    return NewMemory(
        text=text(item["text"]),
        tags=tuple(tags(item.get("tags"))),
        metadata=metadata(item.get("metadata")),
        created_at=timestamp(item.get("created_at"), "created_at"),
        pinned=flag(item.get("pinned", False), "pinned"),
        vector=None if given_vector is None else vector(given_vector, dim),
        thread=thread(item.get("thread")),
        speaker=speaker(item.get("speaker")),
        expires_at=expiry(item.get("expires_at")),
        supersedes=None if item.get("supersedes") is None else memory_id(item["supersedes"]),
        id=own,
        superseded_by=superseded_by,
    )


def _vector_allowed(dim: Optional[int]) -> int:
    """The store's vector size; a keyword-only store (dim None) takes no vector."""
    if dim is None:
        raise InvalidInputError("a vector needs a vector tier; this store is keyword-only (tier 'minimal')")
    return dim


def items(values: Any) -> Iterable[Any]:
    """remember_many's argument: an iterable of items. A str, bytes or a single dict is refused: it
    would otherwise be taken apart into one-letter memories or its keys."""
    if isinstance(values, (str, bytes, bytearray, Mapping, NewMemory)) or not isinstance(values, Iterable):
        raise InvalidInputError(f"items must be an iterable of texts or dicts (a list, a generator...), "
                                f"not {type(values).__name__}")
    return values


def half_life_days(value: Any, allow_inf: bool = True) -> float:
    """recall(half_life_days=...) and the store setting: a positive number of days (a str from the
    command line is read as a number); math.inf, where allowed, means no decay."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise InvalidInputError(f"half_life_days must be a number of days, not {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise InvalidInputError(f"half_life_days must be a positive number of days, not {value!r}")
    if value <= 0 or (value == math.inf and not allow_inf):
        raise InvalidInputError(f"half_life_days must be a positive, finite number of days, not {value!r}"
                                + ("" if allow_inf else "; unset the setting for no decay"))
    return float(value)
