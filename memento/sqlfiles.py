"""Loads SQL from the sql/ folder: numbered migrations and named query blocks.

sql/ sits at the top of the repository and is shipped inside the wheel as memento/sql
(see pyproject.toml); a source checkout or editable install reads it from the repository.
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, NamedTuple

# A block is a statement (`-- name:`) or a part of statements (`-- part:`, e.g. CTEs two recall
# statements share); a line `-- include: <part>` in a block is replaced by that part's text.
_BLOCK_LINE = re.compile(r"^--\s*(name|part):\s*(\w+)\s*$", re.MULTILINE)
_INCLUDE_LINE = re.compile(r"^--\s*include:\s*(\w+)\s*$", re.MULTILINE)
_MIGRATION_FILE = re.compile(r"^(\d{3})_(\w+)\.sql$")


class Migration(NamedTuple):
    version: int
    name: str
    sql: str


def _sql_root() -> Path:
    # A plain path, not importlib.resources: pip never installs memento zipped, and resources
    # pulls in tempfile, shutil, zipfile... (~4 MB and ~5 ms more per start on a Pi).
    here = Path(__file__).resolve().parent
    packaged = here / "sql"
    return packaged if packaged.is_dir() else here.parent / "sql"


def _read(folder: str) -> Dict[str, str]:
    root = _sql_root() / folder
    return {f.name: f.read_text(encoding="utf-8") for f in root.iterdir() if f.name.endswith(".sql")}


@lru_cache(maxsize=None)
def _query_blocks() -> Dict[str, str]:
    return blocks_of(_read("queries"))


def blocks_of(files: Dict[str, str]) -> Dict[str, str]:
    """Every `-- name:` block of these SQL files' texts, by name, its includes expanded."""
    blocks: Dict[str, str] = {}
    parts: Dict[str, str] = {}
    for filename, text in sorted(files.items()):
        pieces = _BLOCK_LINE.split(text)
        # pieces = [preamble, kind1, name1, body1, kind2, name2, body2, ...]
        for kind, name, body in zip(pieces[1::3], pieces[2::3], pieces[3::3]):
            if name in blocks or name in parts:
                raise RuntimeError(f"SQL block {name!r} is defined twice (second time in {filename})")
            (blocks if kind == "name" else parts)[name] = body.strip()
    return {name: _without_comment_lines(_expand(body, parts, (name,))) for name, body in blocks.items()}


# A line holding only a comment, and the indentation of every line. The files explain every CTE and
# are indented to be read; SQLite needs neither, and apsw caches a statement only up to 16 KiB of
# text (Connection.cache_stats()["max_cacheable_bytes"]): a longer one is compiled again at every
# run (~2 ms a hybrid recall). No SQL here has a string literal running over a line break, so a line
# starting with "--" is always a comment and a line's leading blanks are never inside a literal.
_COMMENT_LINE = re.compile(r"^[ \t]*--[^\n]*(?:\n|$)", re.MULTILINE)
_INDENT = re.compile(r"^[ \t]+", re.MULTILINE)


def _without_comment_lines(sql: str) -> str:
    return _INDENT.sub("", _COMMENT_LINE.sub("", sql))


def _expand(body: str, parts: Dict[str, str], users: tuple) -> str:
    """body with its includes replaced by the parts' texts, theirs in turn (users: who includes whom)."""
    def part(match: "re.Match[str]") -> str:
        name = match.group(1)
        if name not in parts:
            raise RuntimeError(f"SQL block {users[-1]!r} includes {name!r}, which no `-- part:` defines")
        if name in users:
            raise RuntimeError(f"SQL part {name!r} includes itself ({' -> '.join(users + (name,))})")
        return _expand(parts[name], parts, users + (name,))
    return _INCLUDE_LINE.sub(part, body)


def query(name: str) -> str:
    """The SQL of the block `-- name: <name>` in sql/queries/*.sql."""
    return _query_blocks()[name]


def script(folder: str, filename: str) -> str:
    """A whole SQL file, e.g. script("vector", "create_vec.sql")."""
    return (_sql_root() / folder / filename).read_text(encoding="utf-8")


@lru_cache(maxsize=None)
def migrations() -> List[Migration]:
    found = []
    for filename, text in _read("migrations").items():
        m = _MIGRATION_FILE.match(filename)
        if m:
            found.append(Migration(int(m.group(1)), m.group(2), text))
    found.sort()
    versions = [mig.version for mig in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations must be numbered 001, 002, ... without gaps; found {versions}")
    return found
