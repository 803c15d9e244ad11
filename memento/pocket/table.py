"""The pocket tier's static token table: the file the package ships, its layout, and text -> vector.

static-minilm-l6.sqlite (next to this module) is a read-only SQLite file made by tools/pocket_table.py
from the full tier's all-MiniLM-L6-v2 (the recipe, origin and licence are in its meta table and in
docs/tiers.md):

    meta(key, value)                       format, dim, recipe, model, licence, content_sha256, ...
    tokens(id, piece, scale, vec)          one row per WordPiece token: its id in the model's
                                           vocabulary, the piece ("tea", "##ing"), and its static
                                           vector as int8 (vec, dim bytes) times scale

It is read by point reads (a text's pieces, then their rows), so a process holds none of it in
memory beyond SQLite's small page cache. A text's vector is the mean of its tokens' rows (their
weights are inside the rows), normalised and stored as int8 (dim bytes, scale dropped: cosine does not
need it). Pure Python: no numpy, no onnxruntime.
"""
from __future__ import annotations

import hashlib
import json
import os
from array import array
from math import sqrt
from operator import mul
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import apsw

from .. import sqlfiles
from ..errors import ModelIntegrityError, TierUnavailableError
from . import TABLE_FILE
from .tokenizer import WordPiece

PATH = Path(__file__).resolve().parent / TABLE_FILE
FORMAT = 1
DIM = 128           # PCA components: 3.9 MB of int8 rows; d=256 doubles the file for no gain on dev
SIF = 1e-4          # the weighting's constant (model2vec's default)
# The shipped file, as tools/pocket_table.py built it: its bytes, and its rows (the rows' hash does not
# depend on the SQLite version that wrote the file; a rebuild in a vector env must give it again).
SHA256 = "f5a1416674053800be33f12b8f9bec83d2b8f3b96dd66a7f87bba7f3c3a3f989"
CONTENT_SHA256 = "d4a7e08a00402fc8c5021194ddf7b19c32048b754c7c64810973bf328f22dd0d"
MAX_TOKENS = 512    # a text's first 512 tokens make its vector (a long text costs no more than that)
PAGE_CACHE_KIB = 256
ROW_CACHE = 2048    # token rows kept (~0.5 MB at d=128): the words of queries and memories repeat


def file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def content_hash(dim: int, rows: Iterable[Tuple[int, str, float, bytes]]) -> str:
    """sha256 of the rows (id, piece, scale, vec) in id order: the table's content, whatever wrote it."""
    h = hashlib.sha256(f"memento-pocket {FORMAT} {dim}\n".encode())
    for i, piece, scale, vec in rows:
        h.update(f"{i}\t{piece}\t{scale!r}\t".encode("utf-8") + vec + b"\n")
    return h.hexdigest()


def write(path: Path, meta: Dict[str, str], rows: Sequence[Tuple[int, str, float, bytes]]) -> None:
    """Write the table file (tools/pocket_table.py): a new file, moved into place whole."""
    tmp = path.with_name(path.name + ".tmp")
    if tmp.exists():
        tmp.unlink()
    conn = apsw.Connection(str(tmp))
    try:
        conn.pragma("page_size", 4096)
        conn.pragma("journal_mode", "off")
        with conn:
            conn.execute(sqlfiles.script("pocket", "table.sql"))
            conn.executemany(sqlfiles.query("pocket_table_insert_meta"),
                             [{"key": k, "value": v} for k, v in sorted(meta.items())])
            conn.executemany(sqlfiles.query("pocket_table_insert_token"),
                             [{"id": i, "piece": p, "scale": s, "vec": v} for i, p, s, v in rows])
        conn.execute("VACUUM")
    finally:
        conn.close()
    os.replace(tmp, path)


class StaticTable:
    """The open table: text -> static vector (int8 bytes). Not thread-safe by itself: its store calls it
    under the store's lock."""

    def __init__(self, path: Optional[Path] = None):
        path = PATH if path is None else path
        if not path.is_file():
            raise TierUnavailableError(f"the pocket tier's table {path} is missing: reinstall "
                                       "memento-openclaw (pip install --force-reinstall 'memento-openclaw[pocket]')")
        self.path = path
        # immutable: the file never changes, so SQLite takes no locks and never looks for a journal
        # (the package folder may be read-only).
        self._conn = apsw.Connection(path.resolve().as_uri() + "?immutable=1",
                                     flags=apsw.SQLITE_OPEN_READONLY | apsw.SQLITE_OPEN_URI)
        self._conn.pragma("cache_size", -PAGE_CACHE_KIB)
        self.meta = dict(self._conn.execute(sqlfiles.query("pocket_table_meta")))
        if self.meta.get("format") != str(FORMAT):
            raise ModelIntegrityError(f"{path}: table format {self.meta.get('format')!r}, this memento reads "
                                      f"{FORMAT}; reinstall memento-openclaw")
        self.dim = int(self.meta["dim"])
        self._row_cache: Dict[int, Tuple[float, bytes]] = {}
        self.id = f"static-minilm-l6-d{self.dim}-{self.meta['content_sha256'][:8]}"
        unk = self._lookup([self.meta["unk_token"]])
        self.tokenizer = WordPiece(self._lookup, unk[self.meta["unk_token"]],
                                   int(self.meta["max_input_chars_per_word"]))

    def close(self) -> None:
        self._conn.close()

    def _lookup(self, pieces: List[str]) -> Dict[str, int]:
        return dict(self._conn.execute(sqlfiles.query("pocket_pieces"), {"pieces": json.dumps(pieces)}))

    def _rows(self, ids: Iterable[int]) -> Dict[int, Tuple[float, bytes]]:
        """The rows of these token ids (those that exist), in id order; recent ones are kept (a text's
        common words repeat across texts), the others read in one query."""
        wanted = sorted(set(ids))
        cache = self._row_cache
        missing = [i for i in wanted if i not in cache]
        if not missing:
            return {i: cache[i] for i in wanted}
        read = {i: (scale, vec) for i, scale, vec in self._conn.execute(
            sqlfiles.query("pocket_rows"), {"ids": json.dumps(missing)})}
        rows = {i: cache[i] if i in cache else read[i] for i in wanted if i in cache or i in read}
        for i, row in read.items():
            if len(cache) >= ROW_CACHE:
                del cache[next(iter(cache))]              # the oldest read
            cache[i] = row
        return rows

    def vector(self, text: str) -> bytes:
        """The text's static vector: int8, dim bytes, the mean of its token rows scaled to |x| <= 127.
        A text with no known token (only [UNK]s) gets the zero vector, which matches nothing."""
        ids = [i for i in self.tokenizer.ids(text)[:MAX_TOKENS] if i != self.tokenizer.unk_id]
        counts: Dict[int, int] = {}
        for i in ids:
            counts[i] = counts.get(i, 0) + 1
        found = self._rows(counts)
        if not found:
            return bytes(self.dim)
        # Per dimension, the weighted sum over the text's distinct tokens (a token counts as often as
        # it occurs): the loops run in C (sum, map, zip), not one Python step per number.
        weights = [scale * counts[i] for i, (scale, _) in found.items()]
        rows = [memoryview(v).cast("b") for _, v in found.values()]
        total = [sum(map(mul, weights, column)) for column in zip(*rows)]
        peak = max(map(abs, total))
        if peak == 0.0:
            return bytes(self.dim)
        return array("b", [round(t * 127.0 / peak) for t in total]).tobytes()

    def vectors(self, texts: Sequence[str]) -> List[bytes]:
        return [self.vector(t) for t in texts]


def norm(vec: bytes) -> float:
    """The length of an int8 vector (memories_pocket.norm)."""
    v = memoryview(vec).cast("b")
    return sqrt(sum(map(mul, v, v)))


class Dot:
    """memento_dot(a, b): the dot product of two int8 vectors (BLOBs of equal length); NULL when either
    is not a BLOB or their lengths differ. The pocket recall statement calls it once per pool member
    with the same query vector b, whose decoding is kept from the last call."""

    def __init__(self) -> None:
        self._last: Optional[bytes] = None
        self._q: memoryview = memoryview(b"")

    def __call__(self, a, b):
        if not isinstance(a, bytes) or not isinstance(b, bytes) or len(a) != len(b):
            return None
        if b is not self._last and b != self._last:
            self._q = memoryview(b).cast("b")
            self._last = b
        return sum(map(mul, memoryview(a).cast("b"), self._q))
