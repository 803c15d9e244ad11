"""Strict JSON for everything that leaves memento: MCP messages, --json output, export, stored metadata.

Strict means what every JSON parser accepts. Python writes NaN and Infinity by default, which strict
clients reject; yet a store can hold them: metadata {"n": 1e999} is valid JSON to SQLite (and a JSON5
`Infinity` typed in the sqlite3 shell is accepted too) and reads back as infinity. So an infinite
number is written as 1e999 / -1e999, valid JSON that reads back as infinity (an export imports back
exactly), and NaN, which JSON has no number for, as null. Dataclasses (Memory, Hit, Stats...) are
written as objects of their fields; bytes (a BLOB typed in the shell) as their UTF-8 text.
"""
from __future__ import annotations

import json
import math
import os
from typing import Any, Dict, Optional

_NUMBERS = {"inf": "1e999", "-inf": "-1e999", "nan": "null"}


def dumps(value: Any, *, ascii_only: bool = False, indent: Optional[int] = None, compact: bool = False) -> str:
    """value as strict JSON text. ascii_only: escape every non-ASCII character (a protocol line that
    must stay valid UTF-8 whatever it echoes); compact: no spaces after separators."""
    marks: Dict[str, str] = {}
    plain = _plain(value, marks, os.urandom(8).hex())
    text = json.dumps(plain, ensure_ascii=ascii_only, allow_nan=False, indent=indent,
                      separators=(",", ":") if compact else None)
    for mark, number in marks.items():   # only when the value held a non-finite number
        text = text.replace(json.dumps(mark, ensure_ascii=ascii_only), number)
    return text


def text_of(value: Any) -> str:
    """A value read from a TEXT column as text, whatever the row holds: a BLOB or a number typed in
    the sqlite3 shell is shown, exported and searched as text instead of breaking the reader."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", errors="replace")
    return "" if value is None else str(value)


def _plain(value: Any, marks: Dict[str, str], nonce: str) -> Any:
    """value with dataclasses as dicts, bytes as text and non-finite floats as marks that no text
    can contain (a per-call random nonce), replaced by their JSON numbers after encoding."""
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        kind = "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
        mark = f"\x00memento-{nonce}-{kind}"
        marks[mark] = _NUMBERS[kind]
        return mark
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    fields = getattr(value, "__dataclass_fields__", None)   # a dataclass instance, without importing
    if fields is not None and not isinstance(value, type):  # dataclasses (the MCP handshake stays light)
        value = {name: getattr(value, name) for name in fields}
    if isinstance(value, dict):
        return {str(k): _plain(v, marks, nonce) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, marks, nonce) for v in value]
    if isinstance(value, (bytes, bytearray, memoryview)):
        return text_of(value)
    return str(value)
