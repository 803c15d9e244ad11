"""The vector side of a store (vector tiers only): memories_vec, embedding, backfill, hybrid recall.

Imported by store.open() only when the tier has embeddings, so the minimal tier never loads it.
"""
from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Callable, List, Optional, Sequence

import apsw

from . import db, models, ranking, sqlfiles
from .doctor import Check
from .embed import Embedder
from .errors import ModelMismatchError
from .records import Memory

log = logging.getLogger("memento")

# Every ranking weight (fusion, smoothing, candidate counts) is in memento/ranking.py.
BACKFILL_BATCH = 256


class VectorIndex:
    def __init__(self, conn: apsw.Connection, path: Path, spec: models.ModelSpec, embedder: Embedder):
        self._conn = conn
        self.path = path
        self.spec = spec
        self.embedder = embedder

    @property
    def model_id(self) -> str:
        return self.spec.id

    @classmethod
    def attach(cls, conn: apsw.Connection, path: Path, tier: str, *, adopt_model: bool = False) -> "VectorIndex":
        """Load vec0, check the store's model, create memories_vec if needed, apply queued deletes.

        A store whose vectors come from another model raises ModelMismatchError, unless
        adopt_model: then its old vectors are dropped and every memory is pending (see reembed)."""
        spec = models.model_for_tier(tier)
        db.load_vec0(conn)
        meta = dict(conn.execute(sqlfiles.query("all_meta")).fetchall())
        stored = meta.get("model")
        if stored is not None and stored != spec.id and not adopt_model:
            raise ModelMismatchError(
                f"{path} holds vectors from {stored!r} ({meta.get('dim')}-d); tier {tier!r} uses {spec.id!r}. "
                f"Re-embed it with `memento reembed --db {path} --tier {tier}`, or open it with "
                f"tier={meta.get('tier', 'its own tier')!r} (or tier='minimal' for keyword-only)")
        with db.translate_errors(path), db.write_transaction(conn):
            if stored != spec.id:
                conn.execute(sqlfiles.query("drop_vec"))
                conn.execute(sqlfiles.query("reset_vectors"))
                conn.execute(sqlfiles.query("clear_vector_deletes"))
            dim = int(spec.dim)  # the one value formatted into SQL: an int from our own registry
            conn.execute(sqlfiles.script("vector", "create_vec.sql").format(dim=dim))
            for key, value in (("model", spec.id), ("dim", str(dim))):
                conn.execute(sqlfiles.query("set_meta"), {"key": key, "value": value})
            _apply_queued_deletes(conn)
        return cls(conn, path, spec, Embedder(spec))

    # -- writing -------------------------------------------------------------------------------

    def embed(self, texts: Sequence[str]) -> List[bytes]:
        return self.embedder.embed(texts)

    def store(self, memories: List[Memory], vectors: List[Optional[bytes]]) -> List[Memory]:
        """Write vectors for memories (inside the caller's transaction); returns them marked.
        A None vector leaves its memory pending (embed="later")."""
        marked = []
        for memory, vector in zip(memories, vectors):
            if vector is not None:
                self._write(memory.id, vector)
                memory = replace(memory, embedded_with=self.spec.id)
            marked.append(memory)
        return marked

    def _write(self, memory_id: int, vector: bytes) -> None:
        """Replace the memory's vector and record the model that made it (caller's transaction)."""
        self._conn.execute(sqlfiles.query("vec_delete"), {"id": memory_id})
        self._conn.execute(sqlfiles.query("vec_insert"), {"id": memory_id, "embedding": vector})
        self._conn.execute(sqlfiles.query("mark_embedded"), {"id": memory_id, "model": self.spec.id})

    def delete(self, memory_id: int) -> None:
        """After a forget (inside its transaction): the trigger queued the vector; drop it now."""
        _apply_queued_deletes(self._conn)

    def pending(self) -> int:
        return self._conn.execute(sqlfiles.query("pending_count")).get

    def backfill(self, batch_size: int = BACKFILL_BATCH, progress: Optional[Callable[[int], None]] = None) -> int:
        """Embed memories stored without a vector (embed="later", a keyword-only visit, changed text).
        Each batch is embedded outside the write lock, then written if its text is still the same."""
        done, after = 0, 0
        while True:
            rows = self._conn.execute(sqlfiles.query("pending_batch"),
                                      {"after_id": after, "limit": batch_size}).fetchall()
            if not rows:
                return done
            after = rows[-1][0]
            vectors = self.embed([text for _, text in rows])
            with db.translate_errors(self.path), db.write_transaction(self._conn):
                for (memory_id, text), vector in zip(rows, vectors):
                    current = self._conn.execute(sqlfiles.query("text_of"), {"id": memory_id}).fetchone()
                    if current is None or current[0] != text:
                        continue  # forgotten, embedded or edited meanwhile: the next pass sees it
                    self._write(memory_id, vector)
                    done += 1
            if progress is not None:
                progress(len(rows))

    def reset(self) -> None:
        """Mark every memory pending (the next backfill re-embeds all of them)."""
        with db.translate_errors(self.path), db.write_transaction(self._conn):
            self._conn.execute(sqlfiles.query("reset_vectors"))

    # -- reading -------------------------------------------------------------------------------

    def recall(self, request: ranking.RecallRequest, settings: ranking.RankingSettings) -> list:
        """Hybrid or vector recall (sql/queries/recall_hybrid.sql). The query's vector: the caller's
        (request.qvec, stored form) or the model's."""
        qvec = request.qvec if request.qvec is not None else self.embedder.embed_one(request.query)
        params = {**request.params(settings), "qvec": qvec, "model": self.spec.id}
        return self._conn.execute(sqlfiles.query("recall_hybrid"), params).fetchall()

    def checks(self) -> List[Check]:
        vec_rows = self._conn.execute(sqlfiles.query("vec_row_count")).get
        embedded = self._conn.execute(sqlfiles.query("embedded_count"), {"model": self.spec.id}).get
        orphans = self._conn.execute(sqlfiles.query("vec_rows_without_memory")).get
        pending = self.pending()
        try:
            models.model_dir(self.spec)  # verifies the model files' sha256
            model_ok, model_detail = True, f"{self.spec.id}: sha256 verified"
        except Exception as e:  # noqa: BLE001 - reported, not raised: doctor lists every failure
            model_ok, model_detail = False, f"{type(e).__name__}: {e}"
        return [
            Check("vector rows belong to live memories", orphans == 0, f"{orphans} orphan vectors"),
            Check("embedded memories have vectors", vec_rows >= embedded, f"{vec_rows} vectors, {embedded} embedded"),
            Check("pending embeddings", True, f"{pending} (run `memento backfill`)" if pending else "none"),
            Check("model files", model_ok, model_detail),
        ]


def _apply_queued_deletes(conn: apsw.Connection) -> None:
    conn.execute(sqlfiles.query("apply_vector_deletes"))
    conn.execute(sqlfiles.query("clear_vector_deletes"))
