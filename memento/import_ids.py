"""An import's ids: what `id` and `superseded_by` of the items of one remember_many/remember_stream
call (a `memento export`) become in this store.

An item keeps its id when this store never gave that id to any memory (above the store's highest id
ever, or among ids this import reserved), so restoring an export into a new store gives every memory
its old id back; otherwise it gets the next free id. `superseded_by` names another item of the same
import, before or after it; it is translated to the id that item got (or the memory it was merged
into, as a duplicate). The superseder of an item is not stored yet when the item is (an export
lists memories in id order): its id is reserved at once, by raising the store's AUTOINCREMENT
counter, so no other writer can take it between two batches, and a kill in between leaves the item
superseded by an id no memory has, exactly like one whose superseder was forgotten. A superseder
that is not in the import at all stays just that: its reserved id is never given to any memory.

Ids above JSON's exact-integer range (2**53 - 1) are never kept: a crafted file could otherwise use up
the store's ids (AUTOINCREMENT cannot go past 2**63 - 1).
"""
from __future__ import annotations

from array import array
from bisect import bisect_left
from typing import Dict, List, Optional, Set

import apsw

from . import sqlfiles
from .errors import InvalidInputError

KEEP_MAX = 2**53 - 1


class IdMap:
    """item id -> stored id, 16 bytes an entry while ids come in increasing order (an export's
    order; a 200 MB export holds ~235k memories: ~4 MB), a dict for the others."""

    def __init__(self) -> None:
        self._keys = array("q")
        self._values = array("q")
        self._others: Dict[int, int] = {}

    def get(self, key: int) -> Optional[int]:
        if key in self._others:
            return self._others[key]
        i = bisect_left(self._keys, key)
        return self._values[i] if i < len(self._keys) and self._keys[i] == key else None

    def __contains__(self, key: int) -> bool:
        return self.get(key) is not None

    def add(self, key: int, value: int) -> None:
        if not self._keys or key > self._keys[-1]:
            self._keys.append(key)
            self._values.append(value)
        else:
            self._others[key] = value


def duplicate_id(item_id: int) -> InvalidInputError:
    return InvalidInputError(f"id {item_id} appears twice in this import (two exports joined? import them "
                             "one at a time)")


class ImportIds:
    """One import's ids, across its transactions. begin() at the start of each write transaction;
    then, per item, target() before storing it, stored() after, superseder() for its superseded_by.

    The ranges: when this import moves the store's counter up to an item's own id (stored there, or
    reserved for it as a superseder), every id between the old counter and it becomes this import's
    own: never used before, never given to another writer. An id there is the id of one item only,
    so an item whose id lies there keeps it, without asking the store, unless it is reserved (for
    another item) or stored already (then it appears twice). Ids the store picks itself (the next
    free one, a reservation under a new id) move the counter without making a range."""

    def __init__(self) -> None:
        self._stored = IdMap()                 # item id -> the memory it became (or was merged into)
        self._pending: Dict[int, int] = {}     # superseded_by not stored yet: item id -> reserved id
        self._reserved: Set[int] = set()       # the reserved ids of _pending
        self._lows: List[int] = []             # the ranges (see above), in increasing order:
        self._highs: List[int] = []            # [low, high] each
        self._seq: Optional[int] = None        # the store's counter (None: read it when needed)

    def begin(self) -> None:
        """A new write transaction: another writer may have stored memories since the last one."""
        self._seq = None

    def target(self, conn: apsw.Connection, item_id: int) -> Optional[int]:
        """The id to store the item with; None: the next free one."""
        if item_id in self._stored:
            raise duplicate_id(item_id)
        if item_id in self._pending:
            reserved = self._pending.pop(item_id)
            self._reserved.discard(reserved)
            return reserved
        return item_id if self._free(conn, item_id) else None

    def stored(self, conn: apsw.Connection, item_id: int, target: Optional[int], memory_id: int) -> None:
        """The item became memory_id (a new row, or the current memory it repeats)."""
        self._stored.add(item_id, memory_id)
        if target is not None and target != memory_id:   # merged into a duplicate: links follow it
            conn.execute(sqlfiles.query("repoint_superseded"), {"old": target, "new": memory_id})
        if memory_id > self._counter(conn):
            self._moved(memory_id, own=memory_id == item_id)

    def superseder(self, conn: apsw.Connection, item_id: int) -> int:
        """The id in this store of the item that superseded another (reserved if not stored yet)."""
        found = self._stored.get(item_id)
        if found is not None:
            return found
        if item_id in self._pending:
            return self._pending[item_id]
        reserved = item_id if self._free(conn, item_id) else self._counter(conn) + 1
        if reserved > self._counter(conn):
            conn.execute(sqlfiles.query("raise_sequence"), {"seq": reserved})
            self._moved(reserved, own=reserved == item_id)
        self._pending[item_id] = reserved
        self._reserved.add(reserved)
        return reserved

    def _free(self, conn: apsw.Connection, wanted: int) -> bool:
        """Never given to any memory: above the store's counter (the caller then stores it or raises
        the counter), or in one of this import's ranges and not reserved for another item."""
        if wanted > KEEP_MAX:
            return False
        if wanted > self._counter(conn):
            return True
        i = bisect_left(self._highs, wanted)
        return i < len(self._highs) and self._lows[i] <= wanted and wanted not in self._reserved

    def _counter(self, conn: apsw.Connection) -> int:
        if self._seq is None:
            self._seq = conn.execute(sqlfiles.query("id_sequence")).fetchone()[0]
        return self._seq

    def _moved(self, high: int, own: bool) -> None:
        """This import moved the counter up to `high`; own: to an item's own id (a range, see above)."""
        assert self._seq is not None, "_counter() reads the counter before anything moves it"
        if own:
            if self._highs and self._highs[-1] == self._seq:
                self._highs[-1] = high
            else:
                self._lows.append(self._seq + 1)
                self._highs.append(high)
        self._seq = high
