"""Memories as Markdown day files, the shape OpenClaw keeps its own memory in: DIR/memory/YYYY-MM-DD.md.

Each memory is one list item. Its first line is an HTML comment a person can read in the file and a
renderer hides, with the memory's id, exact time and tags; its text follows, every line indented by
two spaces, so any text (blank lines, headings, list markers of its own) stays inside its item:

    # 2026-11-25

    - <!-- memento:memory id=12 created_at=2026-11-25T05:43:17.123Z tags=prefs,chat -->
      Alice switched from coffee to green tea

A text holding a carriage return cannot be kept in Markdown lines (every reader takes \\r and \\r\\n
for line ends): its item says `text=json` and holds the text as one JSON string, which comes back
exactly. formats/openclaw.py reads these files back (text, time and tags).

Files are written owner-only into a staging folder beside memory/ (memento/files.py: no reader takes
its files for data) and moved in whole at the end; an existing file is never overwritten.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, TextIO, Tuple

from .. import files
from ..errors import ExportError, InvalidInputError
from ..values import Memory

EXPORT_MARK = "<!-- memento:export v1 -->"
ITEM = re.compile(r"^- <!-- memento:memory id=(\d+) created_at=(\S+) tags=(\S*)( text=json)? -->$")
INDENT = "  "
OPEN_FILES = 32   # day files kept open at once while memories stream by in id order


@dataclass(frozen=True)
class ExportSummary:
    files: int
    memories: int
    out: str


@dataclass(frozen=True)
class Item:
    """One exported memory as read back from a day file."""
    start_line: int     # 1-based, inclusive
    end_line: int
    text: str
    created_at: str
    tags: Tuple[str, ...]
    id: int             # its id in the store it was exported from


def render_item(memory: Memory) -> str:
    encoded = "\r" in memory.text
    text = json.dumps(memory.text, ensure_ascii=False) if encoded else memory.text
    head = (f"- <!-- memento:memory id={memory.id} created_at={memory.created_at} tags={','.join(memory.tags)}"
            f"{' text=json' if encoded else ''} -->")
    body = "".join("\n" + (INDENT + line if line else "") for line in text.split("\n"))
    return head + body + "\n"


def parse_items(lines: List[str]) -> List[Item]:
    """Every exported item in a file's lines."""
    items = []
    i = 0
    while i < len(lines):
        match = ITEM.match(lines[i])
        if not match:
            i += 1
            continue
        start, body = i, []
        i += 1
        while i < len(lines) and (lines[i].startswith(INDENT) or lines[i] == "") and not ITEM.match(lines[i]):
            body.append(lines[i][len(INDENT):])
            i += 1
        # The file's final newline leaves one empty last line: it is not part of the last memory's text.
        if i >= len(lines) and body and body[-1] == "":
            body.pop()
        tags = tuple(t for t in match.group(3).split(",") if t)
        text = _decoded("\n".join(body)) if match.group(4) else "\n".join(body)
        items.append(Item(start + 1, i, text, match.group(2), tags, int(match.group(1))))
    return items


def _decoded(body: str) -> str:
    """A `text=json` item's text; a body edited out of JSON shape is kept as it stands."""
    try:
        text = json.loads(body)
    except ValueError:
        return body
    return text if isinstance(text, str) else body


def export(memories: Iterable[Memory], out: Path) -> ExportSummary:
    """Write `memories` as out/memory/YYYY-MM-DD.md (day of created_at, UTC); refuses to overwrite."""
    out = Path(out)
    try:
        target = files.private_dir(files.private_dir(out) / "memory")
        files.remove_stale_staging(target)   # earlier versions staged inside memory/, where readers look
        with files.staging(out) as staging:
            counts = _write_days(memories, staging)
            _refuse_clashes(target, counts)
            for day in sorted(counts):
                files.publish(files.staged(staging, f"{day}.md"), target / f"{day}.md")
    except OSError as e:
        raise ExportError(_why(out, e)) from None
    return ExportSummary(files=len(counts), memories=sum(counts.values()), out=str(target))


def _why(out: Path, error: OSError) -> str:
    where = error.filename or out
    if isinstance(error, NotADirectoryError):
        return f"cannot export into {out}: {where} is not a folder (--out names the folder that gets memory/)"
    return f"cannot export into {out}: {where}: {error.strerror or error}; nothing was left half-written"


def _write_days(memories: Iterable[Memory], staging: Path) -> Dict[str, int]:
    """Each memory appended to its day's staged file; how many each day got."""
    counts: Dict[str, int] = {}
    handles: Dict[str, TextIO] = {}
    try:
        for memory in memories:
            day = memory.created_at[:10]
            handle = handles.pop(day, None)
            if handle is None:
                if len(handles) >= OPEN_FILES:
                    handles.pop(next(iter(handles))).close()
                handle = files.append_private(files.staged(staging, f"{day}.md"))
                if day not in counts:
                    handle.write(f"{EXPORT_MARK}\n# {day}\n\n")
            handles[day] = handle          # most recently used last
            handle.write(render_item(memory))
            counts[day] = counts.get(day, 0) + 1
    finally:
        for handle in handles.values():
            handle.close()
    return counts


def _refuse_clashes(target: Path, counts: Dict[str, int]) -> None:
    clashes = sorted(name for name in (f"{day}.md" for day in counts) if os.path.lexists(target / name))
    if clashes:
        raise InvalidInputError(f"{target} already holds {', '.join(clashes[:5])}"
                                f"{' ...' if len(clashes) > 5 else ''}; nothing was written. "
                                "Export into an empty folder (--out).")


def in_window(memory: Memory, since: Optional[str], until: Optional[str]) -> bool:
    """since inclusive, until exclusive, on the fixed-width UTC text of created_at."""
    return (since is None or memory.created_at >= since) and (until is None or memory.created_at < until)
