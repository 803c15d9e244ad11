"""Memories as Markdown day files, the shape OpenClaw keeps its own memory in: DIR/memory/YYYY-MM-DD.md.

Each memory is one list item. Its first line is an HTML comment a person can read in the file and a
renderer hides, with the memory's id, exact time and tags; its text follows, every line indented by
two spaces, so any text (blank lines, headings, list markers of its own) stays inside its item:

    # 2026-11-25

    - <!-- memento:memory id=12 created_at=2026-11-25T05:43:17.123Z tags=prefs,chat -->
      Alice switched from coffee to green tea

formats/openclaw.py reads such files back exactly (text, time and tags). Files are written into a
staging folder next to the target and moved in at the end; an existing file is never overwritten.
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, TextIO, Tuple

from ..errors import InvalidInputError
from ..values import Memory

EXPORT_MARK = "<!-- memento:export v1 -->"
ITEM = re.compile(r"^- <!-- memento:memory id=(\d+) created_at=(\S+) tags=(\S*) -->$")
INDENT = "  "
OPEN_FILES = 32   # day files kept open at once while memories stream by in id order


@dataclass(frozen=True)
class ExportSummary:
    files: int
    memories: int
    out: str


def render_item(memory: Memory) -> str:
    head = f"- <!-- memento:memory id={memory.id} created_at={memory.created_at} tags={','.join(memory.tags)} -->"
    body = "".join("\n" + (INDENT + line if line else "") for line in memory.text.split("\n"))
    return head + body + "\n"


def parse_items(lines: List[str]) -> List[Tuple[int, int, str, str, Tuple[str, ...]]]:
    """(start_line, end_line, text, created_at, tags) for every exported item in a file's lines."""
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
        items.append((start + 1, i, "\n".join(body), match.group(2), tags))
    return items


def export(memories: Iterable[Memory], out: Path) -> ExportSummary:
    """Write `memories` as out/memory/YYYY-MM-DD.md (day of created_at, UTC); refuses to overwrite."""
    target = Path(out) / "memory"
    target.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".memento-export-", dir=target))
    try:
        counts: Dict[str, int] = {}
        handles: Dict[str, TextIO] = {}
        for memory in memories:
            day = memory.created_at[:10]
            handle = handles.pop(day, None)
            if handle is None:
                if len(handles) >= OPEN_FILES:
                    handles.pop(next(iter(handles))).close()
                path = staging / f"{day}.md"
                fresh = not path.exists()
                handle = open(path, "a", encoding="utf-8", newline="\n")  # noqa: SIM115 - closed below
                if fresh:
                    handle.write(f"{EXPORT_MARK}\n# {day}\n\n")
            handles[day] = handle          # most recently used last
            handle.write(render_item(memory))
            counts[day] = counts.get(day, 0) + 1
        for handle in handles.values():
            handle.close()
        clashes = sorted(name for name in (f"{day}.md" for day in counts) if (target / name).exists())
        if clashes:
            raise InvalidInputError(f"{target} already holds {', '.join(clashes[:5])}"
                                    f"{' ...' if len(clashes) > 5 else ''}; nothing was written. "
                                    "Export into an empty folder (--out).")
        for day in sorted(counts):
            os.replace(staging / f"{day}.md", target / f"{day}.md")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ExportSummary(files=len(counts), memories=sum(counts.values()), out=str(target))


def in_window(memory: Memory, since: Optional[str], until: Optional[str]) -> bool:
    """since inclusive, until exclusive, on the fixed-width UTC text of created_at."""
    return (since is None or memory.created_at >= since) and (until is None or memory.created_at < until)
