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
import struct
from itertools import repeat
from math import sqrt
from operator import mul, sub
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
ROW_CACHE = 2048    # token rows kept (~0.6 MB at d=128): the words of queries and memories repeat


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
        return weighted_mean(self.dim, [scale * counts[i] for i, (scale, _) in found.items()],
                             [vec for _, vec in found.values()])

    def vectors(self, texts: Sequence[str]) -> List[bytes]:
        return [self.vector(t) for t in texts]


_BIASED = bytes(i ^ 0x80 for i in range(256))   # an int8 byte -> that value + 128, as an unsigned byte
_BIG = repeat("big")
WEIGHT_BITS = 24    # a row's weight as an integer, relative to the text's largest: 2**24 = the largest
_SLOT = 8           # bytes a dimension takes in the packed sums below
_SHIFT = 56         # the scaled sum's fixed point: its integer part is the slot's top byte
_SLOT_ONES: Dict[int, int] = {}   # dim -> the integer with 1 in every slot
_TO_INT8 = bytes((u - 127) & 0xFF for u in range(256))   # 0..254 -> -127..127, as int8 bytes


def weighted_mean(dim: int, weights: Sequence[float], rows: Sequence[bytes]) -> bytes:
    """The int8 vector sum_t weights[t] * rows[t] (rows: int8 vectors of dim bytes), scaled so that its
    largest component is +-127 and rounded (half up), or the zero vector when there is no row or the
    sum is zero.

    Exact integer arithmetic, with no Python step per dimension (a Pi's in-order core runs ~0.5 us a
    step; 128 dimensions x a few steps cost more than the rest of a query's vector). The weights become
    integers (the largest 2**24; a smaller one keeps 24 bits relative to it, which changed no vector of
    the LoCoMo dev set's 3,759 texts against the float sum); each row is spread into slots of 8 bytes
    of one big integer (dimension d in slot d, biased to 0..255: + 128), so one multiply-add per row
    sums every dimension at once (a slot's sum stays below 512 rows x 2**24 x 255 < 2**41: no carry
    crosses slots). Then, per slot, u = sum + peak (0..2 peak) and 127 * u / peak + 1/2 in fixed point
    (one multiplication of the whole integer by floor(127 * 2**56 / peak)): the slot's top byte is
    round(127 * sum / peak) + 127. floor() makes that product smaller by less than u < 2**42 units of
    2**-56, so only a value within 2**-14 of a tie can round down."""
    if not rows:
        return bytes(dim)
    top = max(weights)
    if not top > 0.0:
        return bytes(dim)
    ints = [round(w / top * (1 << WEIGHT_BITS)) for w in weights]
    block = dim * _SLOT
    spread = bytearray(len(rows) * block)
    spread[_SLOT - 1::_SLOT] = b"".join(rows).translate(_BIASED)
    total = sum(map(mul, ints, map(int.from_bytes, struct.unpack(f"{block}s" * len(rows), spread), _BIG)))
    slots = struct.unpack(f">{dim}Q", total.to_bytes(block, "big"))
    bias = 128 * sum(ints)   # every slot's share of the + 128
    peak = max(max(slots) - bias, bias - min(slots))
    if peak <= 0:
        return bytes(dim)
    ones = _SLOT_ONES.get(dim)
    if ones is None:
        ones = _SLOT_ONES[dim] = int.from_bytes((bytes(_SLOT - 1) + b"\x01") * dim, "big")
    scaled = (total + (peak - bias) * ones) * ((127 << _SHIFT) // peak) + (1 << (_SHIFT - 1)) * ones
    return scaled.to_bytes(block, "big")[::_SLOT].translate(_TO_INT8)


def norm(vec: bytes) -> float:
    """The length of an int8 vector (memories_pocket.norm)."""
    return sqrt(plain_dot(vec, vec))


def plain_dot(a: bytes, b: bytes) -> int:
    """The dot product of two int8 vectors of equal length, one multiplication per dimension (the loop
    runs in C: sum, map)."""
    return sum(map(mul, memoryview(a).cast("b"), memoryview(b).cast("b")))


def dots(query: bytes, vectors: bytes) -> List[int]:
    """The dot products of int8 vectors (`vectors`: m of them, each len(query) bytes, one after another)
    with the int8 vector `query`, exactly, in one go: a few operations per vector and per dimension,
    none per value (a Python step per number is slow, and slower still on a Pi's in-order core).

    Transposed, with big integers: column d (value d of every vector, biased to unsigned: u = a + 128)
    is spread into slots of `size` bytes of one integer, vector c in slot c from the top:
    col_d = sum over c of u[c][d] * x**(m-1-c), x = 2**(8 * size). Then sum over d of query[d] * col_d
    holds in slot c the sum over d of query[d] * u[c][d] = a_c . query + 128 * sum(query). Each is at most
    n * 128 * 255 from 0, so with half of a slot added to each no carry or borrow crosses a slot."""
    n = len(query)
    m = len(vectors) // n if n else 0
    if m == 0:
        return []
    size = ((n * 255 * 128).bit_length() + 8) // 8          # bytes per slot: > 1 bit of headroom
    half = 1 << (8 * size - 1)
    unsigned = memoryview(vectors[:m * n].translate(_BIASED))
    block = m * size
    spread = bytearray(n * block)
    for c in range(m):   # vector c's values into slot c of every column
        spread[c * size + size - 1::block] = unsigned[c * n:(c + 1) * n]
    q = memoryview(query).cast("b").tolist()
    total = sum(map(mul, map(int.from_bytes, struct.unpack(f"{block}s" * n, spread), _BIG), q))
    halves = int.from_bytes((b"\x80" + bytes(size - 1)) * m, "big")   # half of a slot in every slot
    slots = struct.unpack(f"{size}s" * m, (total + halves).to_bytes(block, "big"))
    return list(map(sub, map(int.from_bytes, slots, _BIG), repeat(half + 128 * sum(q))))


class Cosines:
    """memento_cosines(query, id, vec, norm): an aggregate, the recall statement's cosines in one go.
    Each row gives the query's vector and a pool member's id, vector and length (memories_pocket.norm);
    the result is a JSON object from each id to the cosine of its vector with the query's, or null
    where there is none: a vector that is not a BLOB of the query's length or has no positive length,
    or a query that is not a non-empty BLOB or is the zero vector. The dot products are one
    computation (dots above), not one Python call per member."""

    def __init__(self) -> None:
        self.query: Optional[bytes] = None
        self.ids: List[int] = []
        self.vectors: List[bytes] = []
        self.norms: List[float] = []

    def step(self, query, id_, vec, norm) -> None:
        if self.query is None:
            self.query = query if isinstance(query, bytes) else b""
        fits = (isinstance(vec, bytes) and len(vec) == len(self.query) and isinstance(norm, (int, float))
                and norm > 0)
        self.ids.append(id_)
        self.vectors.append(vec if fits else bytes(len(self.query)))
        self.norms.append(norm if fits else 0.0)

    def final(self) -> str:
        query = self.query or b""
        query_norm = sqrt(plain_dot(query, query))
        if query_norm == 0.0:
            return json.dumps({str(i): None for i in self.ids})
        products = dots(query, b"".join(self.vectors))
        return json.dumps({str(i): d / (n * query_norm) if n else None
                           for i, d, n in zip(self.ids, products, self.norms)})
