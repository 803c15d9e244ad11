"""Checks on user input, run before anything is written. Each failure is an InvalidInputError."""
from __future__ import annotations

import json
import math
import re
import sys
import unicodedata
from array import array
from datetime import datetime, timezone
from typing import Any, Iterable, List, Mapping, Optional, Union

from .errors import InvalidInputError

MAX_TEXT_CHARS = 65_536        # a memory is a note, not a document; long texts embed truncated anyway
MAX_TAGS = 64
MAX_TAG_CHARS = 64
MAX_METADATA_BYTES = 65_536
MAX_QUERY_CHARS = 8_192
MAX_K = 1_000
MAX_THREAD_CHARS = 256
MAX_CONTEXT = 10               # recall(context=n): neighbours on each side

_TAG = re.compile(r"^[^\W_][\w\-.:/]*$")  # a word character first, then word chars or - . : /

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
    """Tags are case-insensitive words: stripped, NFC, lower-cased; letters, digits and - _ . : /"""
    if not isinstance(value, str):
        raise InvalidInputError(f"a tag must be a str, not {type(value).__name__}")
    _utf8_clean(value, "tag")
    normalized = unicodedata.normalize("NFC", value.strip()).lower()
    if not normalized or len(normalized) > MAX_TAG_CHARS or not _TAG.match(normalized):
        raise InvalidInputError(
            f"invalid tag {value!r}: use 1-{MAX_TAG_CHARS} letters, digits or - _ . : / "
            "(starting with a letter or digit, no spaces)")
    return normalized


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
    try:
        encoded = json.dumps(dict(value), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as e:
        raise InvalidInputError(f"metadata is not JSON-serializable: {e}") from None
    _utf8_clean(encoded.replace("\\u0000", ""), "metadata")
    if len(encoded.encode("utf-8")) > MAX_METADATA_BYTES:
        raise InvalidInputError(f"metadata is over {MAX_METADATA_BYTES:,} bytes as JSON")
    return encoded


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


def memory_id(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInputError(f"a memory id is an int, not {type(value).__name__}")
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
    return format_utc(value)


def format_utc(moment: datetime) -> str:
    utc = moment.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def now_utc() -> str:
    return format_utc(datetime.now(timezone.utc))


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
