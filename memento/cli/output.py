"""How the `memento` commands show results: JSON (--json) or aligned tables for people, with every
character a terminal would act on shown escaped."""
from __future__ import annotations

import re
import sys
from typing import Any, Iterable, Optional, Sequence

from .. import strict_json


def print_json(value: Any) -> None:
    """One JSON document on stdout: a list on one line, an object indented for people."""
    print(strict_json.dumps(value, indent=None if isinstance(value, list) else 2))


def print_json_line(value: Any) -> None:
    """One JSON Lines record on stdout."""
    sys.stdout.write(strict_json.dumps(value) + "\n")


def emit(args, records: Iterable[Any], columns: Sequence[str]) -> None:
    """JSON Lines with --json; otherwise an aligned table, text cut to the terminal's width."""
    if args.json:
        for record in records:
            print_json_line(record)
        return
    rows = [["" if getattr(r, c) is None else relevance_cell(r.relevance) if c == "relevance" else cell(getattr(r, c))
             for c in columns] for r in records]
    if not rows:
        print("(nothing)")
        return
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(columns[:-1])]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)) + "  " + columns[-1])
    for r in rows:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths)) + "  " + r[-1])


def counted(n: int, singular: str, plural: Optional[str] = None) -> str:
    """"1 file", "2 files", "1 memory", "3 memories"."""
    return f"{n} {singular if n == 1 else plural or singular + 's'}"


def relevance_cell(value: float) -> str:
    """A relevance (0..1) with fixed decimals, so a column of them reads at a glance."""
    return f"{value:.3f}"


def cell(value: Any, wide: bool = False) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (tuple, list)):
        return ",".join(map(str, value))
    if isinstance(value, dict):
        return _printable(strict_json.dumps(value))
    text = _printable(str(value).replace("\n", " "))
    return text if wide or len(text) <= 100 else text[:99] + "…"


# Characters a terminal acts on instead of showing: C0 and C1 controls, DEL, line/paragraph
# separators and bidirectional overrides. Human output shows them escaped; JSON output is exact.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _printable(text: str) -> str:
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)
