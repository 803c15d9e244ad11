"""Near-duplicates: current memories whose vectors are almost the same (vector tiers only).

Listing only: near is not the same text, a person decides what to merge. numpy is imported with
this module, which only Memento.duplicates(near=...) loads, never the minimal path.
"""
from __future__ import annotations

from typing import Dict, List

import apsw
import numpy as np

from .. import sqlfiles, times
from ..duplicates import DuplicateGroup


def near_groups(conn: apsw.Connection, model: str, threshold: float, block: int = 1024) -> List[DuplicateGroup]:
    """Near-duplicates (vector tiers): current memories whose vectors have cosine >= threshold,
    joined into groups (single link)."""
    rows = conn.execute(sqlfiles.query("current_vectors"), {"model": model, "now": times.now_utc()}).fetchall()
    if len(rows) < 2:
        return []
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    vectors = np.vstack([np.frombuffer(r[1], dtype="<f4") for r in rows])  # stored L2-normalised
    parent = list(range(len(ids)))
    lowest: Dict[int, float] = {}

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    links = []
    for start in range(0, len(ids), block):
        sims = vectors[start:start + block] @ vectors.T
        for a, b in zip(*np.nonzero(sims >= threshold)):
            i = start + int(a)
            if i < int(b):
                links.append((i, int(b), float(sims[a, b])))
    for i, j, _ in links:
        ri, rj = root(i), root(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    members: Dict[int, List[int]] = {}
    for i in range(len(ids)):
        members.setdefault(root(i), []).append(i)
    for i, _, sim in links:
        r = root(i)
        lowest[r] = min(lowest.get(r, 1.0), sim)
    texts = dict((r[0], r[2]) for r in rows)
    out = []
    for r, group in members.items():
        if len(group) > 1:
            group_ids = sorted(int(ids[i]) for i in group)
            out.append(DuplicateGroup(group_ids[0], tuple(group_ids[1:]), texts[group_ids[0]],
                                      similarity=round(lowest[r], 4)))
    return sorted(out, key=lambda g: g.keep)
