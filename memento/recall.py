"""The recall pipeline: a validated RecallRequest -> its statement's parameters -> one SQL statement
(sql/queries/recall_keyword.sql, recall_hybrid.sql or recall_pocket.sql, where fusion happens) -> Hits, with their
thread neighbours when asked.

Memento.recall (memento/store.py) checks the caller's arguments and builds the request; this module
completes it (the query's vector, the split scan's best matches) and runs it.
"""
from __future__ import annotations

import json
import threading
from dataclasses import replace
from typing import Any, Callable, Dict, List, Optional, Tuple

import apsw

from . import bm25, connection, fts_query, rare_words, relevance, split_scan, sqlfiles, time_cues, word_counts
from .ranking import RankingSettings, RecallRequest
from .split_scan import SplitScan
from .strict_json import text_of
from .values import Hit, Neighbour

MODES = ("hybrid", "keyword", "vector")


def hidden_counts(conn: apsw.Connection, count: bool, now: Optional[str],
                  include_superseded: bool) -> Tuple[Optional[int], bool]:
    """(how many memories are hidden, whether any is): expired ones, and superseded ones unless asked
    for. The hybrid statement sizes its vector list by how many (count); the keyword and pocket
    statements only need to know whether any (O(1)), so it is not counted there (None)."""
    params = {"now": now, "include_superseded": int(include_superseded)}
    if not count:
        return None, bool(conn.execute(sqlfiles.query("any_hidden"), params).get)
    hidden = conn.execute(sqlfiles.query("hidden_count"), params).get
    return hidden, hidden > 0


def run(conn: apsw.Connection, request: RecallRequest, settings: RankingSettings, split: SplitScan,
        vectors) -> List[Hit]:
    """The request's hits, best first. `vectors`: the store's VectorIndex or PocketIndex (None: keyword-only)."""
    return [Hit.from_row(r) for r in rows(conn, request, settings, split, vectors)]


def rows(conn: apsw.Connection, request: RecallRequest, settings: RankingSettings, split: SplitScan,
         vectors) -> List[tuple]:
    """The recall statement's rows for the request (Hit.from_row's columns, then relevance's inputs:
    bench/locomo_relevance.py fits relevance on them). Counting hidden memories, the query's word
    weights, this connection's half of a split scan and the statement read one snapshot, so what
    they see of the store agrees (the split scan's other searches read their own: split_scan.py)."""
    qvec = None
    if request.mode != "keyword":
        request = replace(request, model=vectors.model_id)
        qvec = query_vector(vectors, request)
    names = names_in(request.query)
    request = replace(request, query_names=json.dumps(names, ensure_ascii=False),
                      asks_when=time_cues.asks_when(request.query))
    keyword = request.mode == "keyword"
    statement_name = "recall_keyword" if keyword else vectors.statement
    statement = sqlfiles.query(statement_name)
    with connection.read_transaction(conn):
        hidden, any_hidden = hidden_counts(conn, not keyword and vectors.counts_hidden, request.now,
                                           request.include_superseded)
        idf_total, idf_unseen, rows = relevance.query_weights(conn, request.query)
        if request.mode != "keyword" and vectors.reads_partitions:
            request = replace(request, partitioned=bool(conn.execute(sqlfiles.query("vector_partitioned")).get))
        speakers = word_counts.speakers_named(conn, names)
        request = replace(request, hidden=hidden, any_hidden=any_hidden, idf_total=idf_total,
                          idf_unseen=idf_unseen, rows=rows,
                          speakers=None if speakers is None else json.dumps(speakers, ensure_ascii=False))
        dates = query_dates(conn, request, settings)
        if dates is not None:
            request = replace(request, query_dates=dates,
                              date_search=match_walk(conn, request.query) <= settings.date_search_holders)
        params = request.params(settings)
        vector_side = shared = None  # mode "vector" has no keyword side to search meanwhile
        if qvec is not None and request.mode == "hybrid" and vectors.nearest_statement is not None:
            shared = split_scan.Shared()  # the vector worker then helps with the keyword searches
            vector_side = split.beside(conn, lambda worker, asked=dict(params), qvec=qvec: nearest(
                worker, vectors.nearest_statement, asked, qvec), shared)
            shared = shared if vector_side is not None else None
        best = rare_words.top(conn, params, request.query, settings, split, shared)
        params["top"] = json.dumps(best) if best is not None else split.top(conn, params, shared)
        # The hybrid statement's pool (pocket's scores no neighbour by keywords): memento_bm25 past
        # pool_walk_holders, not a walk of every match (recall_hybrid.sql, pool_bm25)
        if (statement_name == "recall_hybrid" and params["match"] is not None and params["w_keyword"] > 0
                and match_walk(conn, request.query) > settings.pool_walk_holders):
            params["pool_terms"] = bm25.query_terms(conn, request.query)
        if vector_side is not None:
            params["qvec"], params["vector_top"] = vector_side()
        elif qvec is not None:
            params["qvec"] = qvec()
        return conn.execute(statement, params).fetchall()


def nearest(conn: apsw.Connection, statement: str, params: Dict[str, Any],
            qvec: Callable[[], bytes]) -> Tuple[bytes, str]:
    """(the query's vector, the vector side's candidates as :vector_top), found on `conn` (the split
    scan's vector worker) while the recall's own connection searches the keyword side."""
    vector = qvec()
    found = conn.execute(sqlfiles.query(statement), {**params, "qvec": vector}).fetchall()
    return vector, json.dumps([[id_, distance] for id_, distance in found])


def query_vector(vectors, request: RecallRequest) -> Callable[[], bytes]:
    """The query's vector, as a call that returns it: the caller's, or the model's. A model that
    releases the GIL (vectors.embeds_aside) embeds the question in a thread of its own meanwhile,
    so that it overlaps the keyword side's searches (on two cores a hybrid recall at 100k memories
    spent ~6 ms embedding, then ~5 ms searching); its error, if any, is raised by the call."""
    if request.qvec is not None:
        given = request.qvec
        return lambda: given
    if not vectors.embeds_aside:
        made = vectors.query_vector(request.query)
        return lambda: made
    outcome: Dict[str, Any] = {}

    def embed() -> None:
        try:
            outcome["vector"] = vectors.query_vector(request.query)
        except BaseException as error:  # noqa: BLE001 - raised again in the caller's thread
            outcome["error"] = error

    worker = threading.Thread(target=embed, name="memento-query-embedding", daemon=True)
    worker.start()

    def wait() -> bytes:
        worker.join()
        if "error" in outcome:
            raise outcome["error"]
        return outcome["vector"]
    return wait


MONTH_YEARS = 50  # "in June" spans at most the 50 years up to the store's last one (or this year)


def query_dates(conn: apsw.Connection, request: RecallRequest, settings: RankingSettings) -> Optional[str]:
    """:query_dates of a recall whose question names a month or year (time_cues.date_ranges), else
    None (nothing read). A month without its year spans the years the store's memories span, at most
    the MONTH_YEARS up to the last one or this year, whichever is first (a store whose times a shell
    edit set to year 1 and 9999 asks no 10,000 ranges, and still finds last June)."""
    named = time_cues.dates_named(request.query) if settings.date_weight_for(request.mode) > 0 else []
    if not named:
        return None
    years = [int(y) for y in conn.execute(sqlfiles.query("created_years")).fetchone()
             if isinstance(y, str) and y.isascii() and y.isdigit()]
    if len(years) != 2:
        return None
    last = min(years[1], int(request.now[:4])) if request.now and request.now[:4].isdigit() else years[1]
    return time_cues.date_ranges(named, max(years[0], last - MONTH_YEARS + 1), last)


def match_walk(conn: apsw.Connection, query: str) -> int:
    """How many index entries a walk of every match of the query's words reads: its words' holders,
    each counted up to half the store as relevance counts them (word_counts keeps the counts read)."""
    rows = word_counts.row_count(conn)
    return sum(word_counts.read(conn, fts_query.keywords(query), cap=rows // 2 + 1).values())


def names_in(query: str, longest: int = 3) -> List[str]:
    """The question's words and runs of up to `longest` words, folded as speakers are folded (:query_names,
    and what word_counts.speakers_named looks up): a speaker named "Mary Ann" matches a question that
    says "mary ann"."""
    words = connection.fold_name(query).split()
    return sorted({" ".join(words[i:i + n]) for n in range(1, longest + 1) for i in range(len(words) - n + 1)})


def with_context(conn: apsw.Connection, hit: Hit, n: int, now: str, include_superseded: bool) -> Hit:
    """The hit with up to n memories before and after it in its thread (Hit.context), hidden ones
    left out by the rule that hides hits: expired ones always (expires_at <= now), superseded ones
    unless include_superseded."""
    if hit.thread is None:
        return hit
    params = {"id": hit.id, "n": n, "now": now, "include_superseded": int(include_superseded)}
    before = conn.execute(sqlfiles.query("thread_before"), params).fetchall()
    after = conn.execute(sqlfiles.query("thread_after"), params).fetchall()
    return replace(hit, context=tuple(
        [Neighbour(i, text_of(text), -offset) for offset, (i, text) in reversed(list(enumerate(before, 1)))]
        + [Neighbour(i, text_of(text), offset) for offset, (i, text) in enumerate(after, 1)]))
