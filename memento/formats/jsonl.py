"""JSON Lines: one memory per line. Export writes every field of Memory; import reads items (the
keys of remember(), plus an export's `id` and `superseded_by`, which restore its links: see
memento/import_ids.py), ignoring the fields an export adds that the store recomputes.

Reading streams one line at a time (never the whole file) and names the line of any refusal."""
from __future__ import annotations

import codecs
import json
from typing import BinaryIO, Iterable, Iterator, Optional, TextIO, Tuple

from .. import import_ids, strict_json, validate
from ..errors import InvalidInputError
from ..values import Memory

# A valid item is far smaller (text <= 65,536 characters, metadata <= 64 KiB, one vector), even with
# every character written as a JSON escape; a longer line is refused without being held whole.
MAX_LINE_BYTES = 4 * 1024 * 1024
EXPORT_ONLY = frozenset({"updated_at", "embedded_with", "duplicate_of"})
_BLANK = object()  # a blank line (JSON null is an item, and refused as one)


def read(stream: BinaryIO, dim: Optional[int]) -> Iterator[validate.NewMemory]:
    """Checked memories from a binary stream of JSON Lines; blank lines are skipped.
    dim: the store's vector size (Memento.dim), None for a keyword-only store. An id seen twice is
    refused here, with its line, before the store is given anything of the line."""
    seen = import_ids.IdMap()
    for number, raw in _lines(stream):
        item = _parse(number, raw)
        if item is _BLANK:
            continue
        try:
            memory = validate.new_memory(item, dim)
            if memory.id is not None:
                if memory.id in seen:
                    raise import_ids.duplicate_id(memory.id)
                seen.add(memory.id, number)
        except InvalidInputError as e:
            raise InvalidInputError(f"line {number}: {e}") from None
        yield memory


def write(memories: Iterable[Memory], out: TextIO) -> int:
    """Every memory as one JSON line (exact text, UTF-8); returns how many were written."""
    written = 0
    for memory in memories:
        out.write(strict_json.dumps(memory) + "\n")
        written += 1
    return written


def _lines(stream: BinaryIO) -> Iterator[Tuple[int, bytes]]:
    number = 0
    while True:
        raw = stream.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        number += 1
        if len(raw) > MAX_LINE_BYTES:
            raise InvalidInputError(f"line {number}: longer than {MAX_LINE_BYTES:,} bytes; no memory is that big")
        yield number, raw


def _parse(number: int, raw: bytes) -> object:
    if number == 1 and raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8):]
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InvalidInputError(f"line {number}: not UTF-8 text (bad byte at column {e.start + 1})") from None
    if not line.strip():
        return _BLANK
    try:
        item = json.loads(line)
    except RecursionError:
        raise InvalidInputError(f"line {number}: JSON nested too deeply") from None
    except ValueError as e:  # JSONDecodeError, or an integer beyond Python's digit limit
        raise InvalidInputError(f"line {number}: not JSON ({e})") from None
    if isinstance(item, dict):
        item = {k: v for k, v in item.items() if k not in EXPORT_ONLY}
    return item
