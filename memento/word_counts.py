"""Per-word document counts of a query: how many memories hold each word, read once per query.

    word_counts.row_count(conn)                                   # memories in the keyword index (bm25's N)
    word_counts.read(conn, ["caroline", "adoption"], cap=2_001)   # {"caroline": 2001, "adoption": 37}

    word_counts.speaker_words(conn)                               # frozenset({"caroline", "melanie"})
    word_counts.speakers_named(conn, ["caroline", "bob"])          # ["Caroline"]

Used by relevance (relevance.py: the query's words' idf, and which of them no memory holds) and by
the rare-word search (rare_words.py: a query word held by more than common_word_share of the
memories is scored, not searched, when rarer words are searched). Words are FTS5 words as
fts_query.keywords gives them. Each is read from the index's own vocabulary (an fts5vocab table of
the connection) as the token FTS5 makes of it; where that cannot be done (an
apsw without fts5_tokenizer) it is quoted and its MATCH rows are counted, stopping at `cap`. The
SQL is in sql/queries/word_counts.sql.
"""
from __future__ import annotations

import re
import weakref
from typing import Callable, Dict, FrozenSet, Iterable, List, NamedTuple, Optional, Sequence, Tuple

import apsw

from . import connection, fts_query, sqlfiles

EXACT = 2 ** 62  # the cap meaning "no cap"
MAX_KEPT = 10_000  # tokens whose counts a connection keeps between writes


def read(conn: apsw.Connection, words: Sequence[str], cap: Optional[int] = None) -> Dict[str, int]:
    """word -> how many memories hold it, counted up to `cap` (None: exact), read on `conn` (inside
    the caller's read transaction, so that the counts and the recall see one snapshot)."""
    tokens = _Tokens.of(conn)
    tokens.ensure_vocabulary(conn)
    known = tokens.counts_now(conn)
    limit = EXACT if cap is None else max(0, int(cap))
    counts = {}
    for word in words:
        token = tokens.token(word)
        if token is not None:  # the index's own count, exact at any size
            count = known.get(token)
            if count is None:
                count = known[token] = conn.execute(sqlfiles.query("vocabulary_documents"),
                                                    {"token": token}).get or 0
        else:  # one statement a word, counting MATCH rows up to the cap
            count = conn.execute(sqlfiles.query("word_document_count"),
                                 {"match": fts_query.quote(word), "cap": limit}).get or 0
        counts[word] = min(count, limit)
    return counts


def speaker_words(conn: apsw.Connection) -> FrozenSet[str]:
    """The words of every stored speaker's name, folded as recall folds names (connection.fold_name:
    "Mary Ann" -> "mary", "ann"), read on `conn` inside the caller's read transaction."""
    return _speakers(conn, complete=True).words


def listed_speaker_words(conn: apsw.Connection) -> Optional[FrozenSet[str]]:
    """speaker_words, or None when the store has more than SPEAKERS_LISTED distinct speakers (a read
    whose cost after each write stays bounded, for what every recall asks)."""
    kept = _speakers(conn, complete=False)
    return None if kept.by_name is None else kept.words


def speakers_named(conn: apsw.Connection, names: Iterable[str]) -> Optional[List[str]]:
    """The stored speakers (as stored) whose folded name is one of `names` (folded names, e.g. a
    question's words and word runs), read on `conn` inside the caller's read transaction; None when
    the store has more than SPEAKERS_LISTED distinct speakers (the recall statement then folds each
    memory's speaker itself: one Python call per memory it scores)."""
    by_name = _speakers(conn, complete=False).by_name
    if by_name is None:
        return None
    return sorted(speaker for name in set(names) for speaker in by_name.get(name, ()))


SPEAKERS_LISTED = 1_000   # distinct speakers a recall reads (a few page reads each) to name them in SQL


class _Speakers(NamedTuple):
    snapshot: tuple
    by_name: Optional[Dict[str, Tuple[str, ...]]]   # folded name -> the speakers that fold to it;
                                                    # None: more than SPEAKERS_LISTED (not all read)
    words: FrozenSet[str]                           # the folded names' words (empty with by_name None)


def _speakers(conn: apsw.Connection, complete: bool) -> _Speakers:
    """The store's speakers by folded name, kept per connection while nothing has been written (as
    counts_now keeps counts). The read seeks from one speaker to the next in their index
    (sql/queries/word_counts.sql, speaker_names) and stops past SPEAKERS_LISTED unless `complete`."""
    snapshot = (conn.pragma("data_version"), conn.total_changes())
    kept = _speakers_by_connection.get(conn)
    if kept is not None and kept.snapshot == snapshot and (kept.by_name is not None or not complete):
        return kept
    by_name: Optional[Dict[str, List[str]]] = {}
    for n, (speaker,) in enumerate(conn.execute(sqlfiles.query("speaker_names"))):
        if n == SPEAKERS_LISTED and not complete:
            by_name = None
            break
        name = _text(speaker)
        if name is not None:
            by_name.setdefault(connection.fold_name(name), []).append(name)
    if by_name is None:
        kept = _Speakers(snapshot, None, frozenset())
    else:
        kept = _Speakers(snapshot, {k: tuple(v) for k, v in by_name.items()},
                         frozenset(word for name in by_name for word in name.split()))
    _speakers_by_connection[conn] = kept
    return kept


_speakers_by_connection: "weakref.WeakKeyDictionary[apsw.Connection, _Speakers]" = weakref.WeakKeyDictionary()


def _text(speaker: Optional[bytes]) -> Optional[str]:
    """A stored text speaker (read as its bytes), or None: not text, or not UTF-8 (no name to match)."""
    try:
        return speaker.decode("utf-8") if isinstance(speaker, bytes) else None
    except UnicodeDecodeError:
        return None


def prepare(conn: apsw.Connection) -> None:
    """Set the connection up for read() (its tokenizer and temp vocabulary table) before anything
    else is compiled on it: creating a temp table expires every statement compiled before."""
    _Tokens.of(conn)


class _Tokens:
    """A word as the keyword index stores it (porter-stemmed: "caroline" -> "carolin"), through
    FTS5's own tokenizer with the index's arguments (apsw's fts5_tokenizer), so that the index's
    vocabulary can be read by token. One per connection (its temp vocabulary table too)."""

    _by_connection: "weakref.WeakKeyDictionary[apsw.Connection, _Tokens]" = weakref.WeakKeyDictionary()

    def __init__(self, conn: apsw.Connection):
        self.tokenize = None
        self._snapshot: Optional[tuple] = None
        self._counts: Dict[str, int] = {}
        names = _tokenizer_names(conn.execute(sqlfiles.query("fts_tokenizer")).get or "")
        if names and hasattr(conn, "fts5_tokenizer"):
            try:
                self.tokenize = conn.fts5_tokenizer(names[0], names[1:])
                conn.execute(sqlfiles.query("vocabulary_create"))
            except apsw.Error:
                self.tokenize = None  # counted through MATCH instead

    @classmethod
    def of(cls, conn: apsw.Connection) -> "_Tokens":
        tokens = cls._by_connection.get(conn)
        if tokens is None:
            tokens = cls._by_connection[conn] = cls(conn)
        return tokens

    def counts_now(self, conn: apsw.Connection) -> Dict[str, int]:
        """token -> count, kept while nothing has been written since they were read: by another
        connection (SQLite's data_version) or by this one (total_changes). fts5vocab walks a token's
        whole list of holders in C (a word in 15% of a million memories: ~2 ms), and the common
        words of questions come back query after query."""
        snapshot = (conn.pragma("data_version"), conn.total_changes())
        if snapshot != self._snapshot or len(self._counts) > MAX_KEPT:
            self._snapshot, self._counts = snapshot, {}
        return self._counts

    def ensure_vocabulary(self, conn: apsw.Connection) -> None:
        """The temp vocabulary table again if it is gone: changing temp_store (connection.temp_on_disk,
        around a migration, repair or partitioning) deletes a connection's temp tables. A no-op
        statement while it exists."""
        if self.tokenize is not None:
            conn.execute(sqlfiles.query("vocabulary_create"))

    def token(self, word: str) -> Optional[str]:
        """The one token FTS5 makes of `word` for a query, or None (no tokenizer, or not one token)."""
        if self.tokenize is None:
            return None
        made = self.tokenize(word.encode("utf-8"), apsw.FTS5_TOKENIZE_QUERY, None, include_offsets=False)
        return made[0][0] if len(made) == 1 and len(made[0]) == 1 else None


def _tokenizer_names(create_sql: str) -> list:
    """["porter", "unicode61", "remove_diacritics", "2"] from "... tokenize = 'porter unicode61
    remove_diacritics 2' ..." (the index's CREATE statement); [] when absent."""
    found = re.search(r"tokenize\s*=\s*'([^']*)'", create_sql)
    return found.group(1).split() if found else []


def row_count(conn: apsw.Connection) -> int:
    """bm25's N: the first varint of FTS5's averages record, 0 for an index never written."""
    return index_totals(conn)[0]


def index_totals(conn: apsw.Connection) -> Tuple[int, int]:
    """(rows, tokens): bm25's N and the tokens of every row in all columns, as FTS5's averages record
    holds them (a varint of rows, then one of tokens per column); (0, 0) for an index never written."""
    block = conn.execute(sqlfiles.query("fts_indexed_rows")).get
    values = _varints(block) if block else []
    return (values[0], sum(values[1:])) if values else (0, 0)


def tokenizer(conn: apsw.Connection) -> Optional[Callable[..., list]]:
    """The keyword index's own tokenizer (apsw's fts5_tokenizer with the index's arguments), or None
    where apsw cannot give it."""
    return _Tokens.of(conn).tokenize


def _varints(data: bytes) -> List[int]:
    """SQLite's varints (FTS5 writes its averages record with them): 7 bits a byte, high bit = more,
    the ninth byte whole."""
    values: List[int] = []
    at = 0
    while at < len(data):
        value = 0
        for i, byte in enumerate(data[at:at + 9]):
            if i == 8:
                value = (value << 8) | byte
                break
            value = (value << 7) | (byte & 0x7F)
            if byte < 0x80:
                break
        at += i + 1
        values.append(value)
    return values
