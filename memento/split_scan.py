"""A big store's recall, split over two cores: the keyword search, and the vector search beside it.

In a big store most of a recall's time is FTS5 scoring every match with bm25 (~0.4 us a match;
~12,000 matches for a question at 100k memories in threads). FTS5 scores a match the same
whichever rows are searched (its idf and average length are the whole table's), so the best
matches of the store are the best of the best of each half of the ids: a second connection, in
a worker thread, searches the upper half while this one searches the lower half (SQLite runs
both at once: apsw releases the GIL while SQLite works). The merged list goes to the recall
statement as :top (recall_parts.sql), which then skips its own search; everything else, fusion
included, happens in that statement. A search led by rare words (memento/rare_words.py) is two
searches instead: they run one on each connection (best_of_two). In a hybrid recall the vector
side's connection, in a thread of its own, finds its candidates meanwhile (beside; the statement
nearest_vectors, vector_search.sql), once the question's vector is there: they go to the statement
as :vector_top, which then skips its own vector search (at 1M memories the keyword side took ~30 ms
and the vector side ~17 ms, one after the other). That thread then takes whichever keyword search
the recall's thread has not started (Shared), so a hybrid recall keeps two threads busy on two
cores, not three.

Used only where it pays: at least SPLIT_FROM memories (below, handing work to a thread costs
more than it saves) and more than one CPU. Each search runs in its own read transaction, so a
write committed between them can be seen by one only: the recall then reflects the store just
before or just after that write, as a recall running a moment earlier or later would (the
statement checks every listed id against its own snapshot, and scores each one there).
"""
from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple, TypeVar

import apsw

from . import connection, files, sqlfiles
from .errors import MementoError, StoreError

T = TypeVar("T")

SPLIT_FROM = 30_000  # memories (by largest id); at 10k one search is ~0.5 ms and a split saves ~0.1 ms


class SplitScan:
    """Finds the best keyword matches (the `top` list of recall_parts.sql) with two connections, and
    runs the vector side's search beside them on a third (beside)."""

    def __init__(self, connect: Callable[[], apsw.Connection]):
        self._keyword = _Worker(connect, "memento-keyword-scan")
        self._vector = _Worker(connect, "memento-vector-search", prepare=connection.load_vec0)
        self._pid = os.getpid()

    def top(self, conn: apsw.Connection, params: Dict[str, Any],
            shared: Optional["Shared"] = None) -> Optional[str]:
        """:top for the recall statement (a JSON array of [id, bm25], best first), or None when the
        statement should search itself (small store, one CPU, no keyword side, forked process).
        shared: the vector worker's offer to help (beside), which then takes the keyword worker's part."""
        if params["match"] is None or params["w_keyword"] <= 0:
            return None
        best = self._split(conn, params, shared)
        return None if best is None else json.dumps(best)

    def best_of_two(self, conn: apsw.Connection, first: Dict[str, Any], second: Dict[str, Any],
                    shared: Optional["Shared"] = None) -> Tuple[List[list], List[list]]:
        """The best matches ([id, bm25], best first) of two searches (memento/rare_words.py): at once,
        one on each connection, where a split scan would pay; else one after the other on `conn`.
        Two whole searches rather than each split in halves: each half of a search counts its
        words' holders for bm25's idf again (a walk of their lists), and these are the words the
        halves would share. With `shared` (a hybrid recall in a big store), this thread searches
        `second` and then `first` unless the vector worker, done with its own search, took it."""
        if shared is not None:
            found_second, found_first = shared.run(conn, [(second, second["low_id"], second["high_id"]),
                                                          (first, first["low_id"], first["high_id"])])
            return found_first, found_second
        worker = self._worker_for(conn, self._keyword)
        if worker is None:
            return (_search(conn, first, first["low_id"], first["high_id"]),
                    _search(conn, second, second["low_id"], second["high_id"]))
        pool, worker_conn, _ = worker
        other = pool.submit(_search, worker_conn, first, first["low_id"], first["high_id"])
        mine = _search(conn, second, second["low_id"], second["high_id"])
        return other.result(), mine

    def beside(self, conn: apsw.Connection, work: Callable[[apsw.Connection], T],
               shared: Optional["Shared"] = None) -> Optional[Callable[[], T]]:
        """work(a connection of its own), started in a thread of its own where a split pays; a call
        that waits for its result (raising its error), or None: then the caller does the work.
        With `shared`, the thread then takes the keyword searches this one has not started yet."""
        worker = self._worker_for(conn, self._vector)
        if worker is None:
            return None
        pool, worker_conn, _ = worker

        def work_then_help() -> T:
            done = work(worker_conn)
            if shared is not None:
                shared.help(worker_conn)
            return done
        return pool.submit(work_then_help).result

    def _worker_for(self, conn: apsw.Connection, worker: "_Worker"):
        """(pool, worker connection, the store's largest id) where a second connection pays (a store
        of SPLIT_FROM memories or more, two CPUs or more); None where it does not, or cannot be had (a
        forked process, a worker connection that cannot be opened)."""
        if _usable_cpus() < 2:
            return None
        if os.getpid() != self._pid:  # a forked child: the worker threads and their connections stayed behind
            return None
        largest = conn.execute(sqlfiles.query("largest_memory_id")).get or 0
        if largest < SPLIT_FROM:
            return None
        started = worker.start()
        return None if started is None else (*started, largest)

    def _split(self, conn: apsw.Connection, params: Dict[str, Any],
               shared: Optional["Shared"]) -> Optional[List[list]]:
        """The best matches, searched in two halves at once; None where splitting does not pay (small
        store, one CPU) or cannot be done (a forked process, no worker connection)."""
        if shared is not None:
            middle = (conn.execute(sqlfiles.query("largest_memory_id")).get or 0) // 2
            lower, upper = shared.run(conn, [(params, params["low_id"], middle),
                                             (params, middle + 1, params["high_id"])])
        else:
            worker = self._worker_for(conn, self._keyword)
            if worker is None:
                return None
            pool, worker_conn, largest = worker
            middle = largest // 2  # the halves cover every id, also ids <= 0 typed in the sqlite3 shell
            later = pool.submit(_search, worker_conn, params, middle + 1, params["high_id"])
            lower = _search(conn, params, params["low_id"], middle)
            upper = later.result()
        return sorted(lower + upper, key=lambda row: (row[1], -row[0]))[:params["overfetch"]]

    def close(self) -> None:
        for worker in (self._keyword, self._vector):
            worker.close(stop=os.getpid() == self._pid)


class Shared:
    """The keyword searches of a hybrid recall in a big store, shared by two threads: the recall's
    own and the vector worker (beside). The recall's thread queues them (run) and takes one after
    another; the vector worker, once its own search is done, takes the ones not started yet (help),
    each thread on its own connection. So two threads keep both cores busy, and the critical path
    decides who searches what: at 100k memories the question's embedding and the vector search
    (~10 ms) outlast both keyword searches (~7 ms) and this thread does them all; at 1M the keyword
    searches (~27 + ~15 ms) outlast the vector side (~22 ms), which then takes the second one. (A
    third connection for the keyword side put three threads on two cores, and the embedding and
    vector search, the longer path at 100k, waited for a core.) A search taken by the worker that
    fails raises its error in the recall's thread, as its own would."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queued: List[Tuple[int, Dict[str, Any], int, int]] = []
        self._results: List[Any] = []
        self._done: List[threading.Event] = []

    def run(self, conn: apsw.Connection, searches: List[Tuple[Dict[str, Any], int, int]]) -> List[List[list]]:
        """Each search's best matches, in the order given: this thread takes them first to last, and
        waits for any the worker took."""
        with self._lock:
            self._results = [None] * len(searches)
            self._done = [threading.Event() for _ in searches]
            self._queued = [(i, *search) for i, search in enumerate(searches)]
        self.help(conn)
        for done in self._done:
            done.wait()
        for outcome in self._results:
            if isinstance(outcome, BaseException):
                raise outcome
        return self._results

    def help(self, conn: apsw.Connection) -> None:
        """Takes searches not started yet, one at a time, until none is left."""
        while True:
            with self._lock:
                if not self._queued:
                    return
                i, params, low, high = self._queued.pop(0)
                results, done = self._results, self._done
            try:
                results[i] = _search(conn, params, low, high)
            except BaseException as error:  # noqa: BLE001 - raised again by run, in the recall's thread
                results[i] = error
            finally:
                done[i].set()


class _Worker:
    """A thread of its own with a connection of its own to the store, made on first use."""

    def __init__(self, connect: Callable[[], apsw.Connection], name: str,
                 prepare: Optional[Callable[[apsw.Connection], object]] = None):
        self._connect = connect          # opens the worker's own connection to the same file
        self._name = name
        self._prepare = prepare          # run once on the new connection (the vector worker loads vec0)
        self._started = None             # (thread pool of one, its connection)
        self._unavailable = False        # the connection could not be opened: never split

    def start(self):
        """(pool, connection), or None when the worker's connection cannot be opened (the file was
        moved or its permissions changed since the store opened): the split is only a speed-up,
        so recall then does the work on its own connection, which still works."""
        if self._started is None and not self._unavailable:
            try:
                conn = self._connect()
                try:
                    if self._prepare is not None:
                        self._prepare(conn)
                except BaseException:
                    conn.close()
                    raise
            except (apsw.Error, MementoError, OSError):
                self._unavailable = True
                return None
            from concurrent.futures import ThreadPoolExecutor  # only for big stores: ~3 ms to import
            self._started = (ThreadPoolExecutor(1, thread_name_prefix=self._name), conn)
        return self._started

    def close(self, stop: bool) -> None:
        """Stops the thread and closes the connection (stop: False in a forked child, where neither
        is this process's to stop)."""
        if self._started is not None and stop:
            pool, conn = self._started
            pool.shutdown(wait=True)
            conn.close()
        self._started = None


def _usable_cpus() -> int:
    # The CPUs this process may run on (a container or taskset may allow fewer than the machine has).
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _search(conn: apsw.Connection, params: Dict[str, Any], low: int, high: int) -> List[list]:
    rows = conn.execute(sqlfiles.query("best_matches_between"), {**params, "low_id": low, "high_id": high})
    return [[id_, bm25] for id_, bm25 in rows]


def reader(path: Path, connect: Callable[[Path], apsw.Connection],
           identity: Optional[files.FileIdentity] = None) -> Callable[[], apsw.Connection]:
    """A factory for the worker's connection: like the store's, read-only by pragma, and reading the
    same file as the store's connection. The path may lead elsewhere by now (a restore renamed
    another store into place): then no worker is opened, and recall searches on its own connection."""
    def open_reader() -> apsw.Connection:
        if identity is not None and files.identity(path) != identity:
            raise StoreError(f"{path} is another file than the one this store opened")
        conn = connect(path)
        if identity is not None and files.identity(path) != identity:  # replaced while connecting
            conn.close()
            raise StoreError(f"{path} is another file than the one this store opened")
        conn.pragma("query_only", True)
        return conn
    return open_reader
