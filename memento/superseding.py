"""Superseded facts and what recall hides: the superseded_by links (never a cycle) and the
store's memories counted by kind (current, superseded, expired).

Called inside the store's write transactions; the SQL is in sql/queries/history.sql.
"""
from __future__ import annotations

from dataclasses import dataclass

import apsw

from . import sqlfiles
from .errors import InvalidInputError, MemoryNotFoundError


def supersede(conn: apsw.Connection, old_id: int, new_id: int) -> None:
    """Mark old_id superseded by new_id (caller's write transaction: an error rolls everything back).
    Refused: a missing memory, superseding itself, a memory already superseded, and any link that
    would close a cycle (old_id reachable from new_id by superseded_by)."""
    if old_id == new_id:
        raise InvalidInputError(f"memory {old_id} cannot supersede itself (the new text is a duplicate "
                                f"of memory {old_id})")
    row = conn.execute(sqlfiles.query("supersede_check"), {"old": old_id, "new": new_id}).fetchone()
    exists, superseded_by, cycle = row
    if not exists:
        raise MemoryNotFoundError(f"no memory with id {old_id} to supersede")
    if superseded_by is not None:
        raise InvalidInputError(f"memory {old_id} is already superseded by memory {superseded_by}; "
                                f"supersede that one, or reinstate({old_id}) first")
    if cycle:
        raise InvalidInputError(f"memory {new_id} is itself (indirectly) superseded by memory {old_id}; "
                                "superseding it back would make a cycle")
    conn.execute(sqlfiles.query("set_superseded_by"), {"id": old_id, "by": new_id})


@dataclass(frozen=True)
class Counts:
    """The store's memories by kind (count(), stats()): every row, the expired ones, and the
    superseded ones that are not expired / that are."""
    total: int
    expired: int
    superseded: int
    superseded_expired: int

    @classmethod
    def read(cls, conn: apsw.Connection, now: str) -> "Counts":
        return cls(*conn.execute(sqlfiles.query("count_by_kind"), {"now": now}).fetchone())

    def selected(self, include_superseded: bool, include_expired: bool) -> int:
        left_out = 0 if include_expired else self.expired
        if not include_superseded:
            left_out += self.superseded + (self.superseded_expired if include_expired else 0)
        return self.total - left_out
