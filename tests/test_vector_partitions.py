"""Vector cells (memento/vectors/partitions.py): a partitioned store's vector search reads the cells
nearest the query; with every cell read it finds the exact KNN, every write path keeps each vector in
its nearest cell, doctor sees a vector whose cell lost its centroid and --repair fixes it. Real
full-tier stores fed caller vectors (the model is never loaded), real vec0."""
from __future__ import annotations

from dataclasses import replace

import pytest

import memento
from memento import sqlfiles, times
from memento.ranking import RecallRequest
from tests.conftest import require_tier

np = pytest.importorskip("numpy", reason="vector cells are a vector tier's (numpy comes with fastembed)")
from memento.vectors.index import create_sql  # noqa: E402  (imports numpy)

DIM = 384


@pytest.fixture
def fmem(store_path):
    require_tier("full")
    with memento.open(store_path, tier="full") as m:
        yield m


def unit_vectors(n: int, seed: int = 0, clusters: int = 12) -> np.ndarray:
    """n unit vectors around a few directions (as texts cluster by topic)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, DIM))
    x = centres[rng.integers(0, clusters, n)] + 0.6 * rng.standard_normal((n, DIM))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def fill(mem, x: np.ndarray) -> list:
    made = mem.remember_many([{"text": f"memory number {i}", "vector": v.tobytes()} for i, v in enumerate(x)],
                             dedup=False)
    return [m.id for m in made]


def cells(mem) -> dict:
    return dict(mem._conn.execute("SELECT rowid, cell FROM memories_vec").fetchall())


def centroids(mem):
    rows = mem._conn.execute(sqlfiles.query("vector_partitions_read")).fetchall()
    return np.array([r[0] for r in rows]), np.frombuffer(b"".join(r[1] for r in rows), "<f4").reshape(len(rows), DIM)


def nearest_cell(mem, vector: np.ndarray) -> int:
    ids, c = centroids(mem)
    return int(ids[np.argmax(c @ vector)])


def vector_candidates(mem, q: np.ndarray) -> list:
    partitioned = bool(mem._conn.execute(sqlfiles.query("vector_partitioned")).fetchone()[0])  # as recall reads it
    request = RecallRequest(query="", match=None, k=10, mode="vector", qvec=q.tobytes(), model=mem.model,
                            now=times.now_utc(), hidden=0, any_hidden=False, partitioned=partitioned)
    return mem._conn.execute(sqlfiles.query("nearest_vectors"), request.params(mem.ranking)).fetchall()


def int8_nearest_of_each_cell(mem, q: np.ndarray) -> dict:
    """cell -> the id whose int8 vector (as vec0 stores it) is nearest q's int8 form by L2 (vec0's metric)."""
    q8 = np.frombuffer(mem._conn.execute("SELECT vec_quantize_int8(?, 'unit')", (q.tobytes(),)).fetchone()[0],
                       np.int8).astype(np.int32)
    best: dict = {}
    for i, cell, blob in mem._conn.execute("SELECT rowid, cell, embedding_int8 FROM memories_vec"):
        d = int(((np.frombuffer(blob, np.int8).astype(np.int32) - q8) ** 2).sum())
        if cell not in best or d < best[cell][0]:
            best[cell] = (d, i)
    return {cell: i for cell, (_, i) in best.items()}


def test_reading_every_cell_finds_the_exact_knn(fmem):
    x = unit_vectors(300)
    ids = fill(fmem, x)
    assert fmem._vectors.partition() == 34  # 2 x sqrt(300)
    assert set(cells(fmem).values()) <= set(centroids(fmem)[0]) and 0 not in cells(fmem).values()
    fmem.ranking = replace(fmem.ranking, probe_cells=1000, cell_prefilter_factor=20)  # every cell, every vector
    for q in unit_vectors(20, seed=1):
        exact = [ids[i] for i in np.argsort(-(x @ q), kind="stable")[:20]]
        got = [row[0] for row in vector_candidates(fmem, q)]
        assert got[:10] == exact[:10]
        assert [h.id for h in fmem.recall("x", k=10, mode="vector", vector=q.tobytes())]


def test_few_cells_read_still_find_the_nearest_ones(fmem):
    x = unit_vectors(400)
    ids = fill(fmem, x)
    fmem._vectors.partition()
    fmem.ranking = replace(fmem.ranking, probe_cells=4)
    found = 0
    for q in x[:40]:  # a stored vector: its own memory is nearest, in the cell of its own centroid
        found += vector_candidates(fmem, q)[0][0] == ids[int(np.argmax(x @ q))]
    assert found == 40


def test_a_partitioned_store_lists_each_cell_by_its_int8_vectors(fmem):
    # One place per cell, every cell read: each candidate is the int8-nearest of its cell (sign bits,
    # the prefilter of a store without cells, would pick other vectors in most cells).
    x = unit_vectors(600, clusters=3)
    fill(fmem, x)
    cells_made = fmem._vectors.partition()
    fmem.ranking = replace(fmem.ranking, probe_cells=1000, cell_prefilter_factor=0.05)  # a list of 1 per cell
    for q in unit_vectors(10, seed=3, clusters=3):
        winners = int8_nearest_of_each_cell(fmem, q)
        got = [row[0] for row in vector_candidates(fmem, q)]
        assert len(winners) == cells_made and len(got) == 20
        assert set(got) <= set(winners.values())


def test_a_partitioned_table_keeps_chunks_about_a_cells_size(fmem):
    # vec0 gives every cell whole chunks of its own: chunks of 1,024 for cells of ~20 would leave most
    # of the table empty. One cell keeps vec0's 1,024.
    from memento.vectors import partitions

    def chunk_size() -> int:
        sql = fmem._conn.execute("SELECT sql FROM sqlite_schema WHERE name = 'memories_vec'").fetchone()[0]
        return int(sql.split("chunk_size = ")[1].split()[0].rstrip(")"))

    fill(fmem, unit_vectors(400))
    assert chunk_size() == 1024
    made = fmem._vectors.partition()
    assert made == 40 and chunk_size() == partitions.chunk_size_for(400, 40) == 16
    assert partitions.chunk_size_for(100_000, 632) == 160 and partitions.chunk_size_for(10**7, 16) == 1024
    assert fmem._conn.execute("SELECT count(*) FROM memories_vec").fetchone()[0] == 400
    assert set(cells(fmem).values()) <= set(centroids(fmem)[0])  # every vector in a cell, chunked as it is


def test_every_write_path_keeps_vectors_in_their_nearest_cell(fmem):
    x = unit_vectors(200)
    ids = fill(fmem, x)
    fmem._vectors.partition()
    new = unit_vectors(5, seed=7)
    added = fill(fmem, new)
    for i, v in zip(added, new):
        assert cells(fmem)[i] == nearest_cell(fmem, v)
    one = fmem.remember("a single one", vector=new[0].tobytes())
    assert cells(fmem)[one.id] == nearest_cell(fmem, new[0])
    # new text with a caller's vector through update(): the text changes, the vector is re-embedded by
    # backfill, which writes it into its cell (a model run: here the caller feeds it through remember)
    fmem.forget(ids[0])
    assert ids[0] not in cells(fmem)
    fmem._conn.execute("UPDATE memories SET text = 'edited in the shell' WHERE id = ?", (ids[1],))  # a shell edit
    assert fmem._conn.execute("SELECT embedded_with FROM memories WHERE id = ?", (ids[1],)).fetchone()[0] is None
    assert all(c.ok for c in fmem.doctor() if c.name == "vector cells have their centroids")


def test_backfill_writes_into_the_nearest_cell(fmem):
    fill(fmem, unit_vectors(200))
    fmem._vectors.partition()
    pending = fmem.remember("tea with Alice", embed="later")
    assert fmem.backfill() == 1
    vector = np.frombuffer(fmem._conn.execute("SELECT value00 FROM memories_vec_auxiliary WHERE rowid = ?",
                                              (pending.id,)).fetchone()[0], "<f4")
    assert cells(fmem)[pending.id] == nearest_cell(fmem, vector)


def test_doctor_finds_vectors_whose_cell_lost_its_centroid_and_repair_fixes_them(fmem):
    x = unit_vectors(200)
    ids = fill(fmem, x)
    fmem._vectors.partition()
    lost = cells(fmem)[ids[0]]
    fmem._conn.execute("DELETE FROM vector_partitions WHERE id = ?", (lost,))  # a shell edit
    check = next(c for c in fmem.doctor() if c.name == "vector cells have their centroids")
    assert not check.ok and "without a centroid" in check.detail
    fixes = fmem.repair()
    assert any(f.name == "vectors outside their cells" for f in fixes)
    assert all(c.ok for c in fmem.doctor() if c.name == "vector cells have their centroids")
    fmem.ranking = replace(fmem.ranking, probe_cells=1000, cell_prefilter_factor=20)
    q = x[0]
    assert vector_candidates(fmem, q)[0][0] == ids[0]


def partition_count(mem) -> int:
    return mem._conn.execute("SELECT count(*) FROM vector_partitions").fetchone()[0]


def test_remember_never_partitions_optimize_does_once_the_store_has_grown(fmem, monkeypatch):
    from memento.vectors import partitions
    monkeypatch.setattr(partitions, "PARTITION_FROM", 100)
    fill(fmem, unit_vectors(60))
    assert fmem.optimize() is None and partition_count(fmem) == 0
    fill(fmem, unit_vectors(60, seed=3))  # 120 >= 100: due, but a write never rewrites every vector
    assert partition_count(fmem) == 0 and set(cells(fmem).values()) == {0}
    check = next(c for c in fmem.doctor() if c.name == "vector cells have their centroids")
    assert check.ok and "memento optimize" in check.detail
    assert fmem.optimize() == 21  # 2 x sqrt(120)
    assert partition_count(fmem) == 21 and 0 not in cells(fmem).values() and len(cells(fmem)) == 120
    nxt = fmem._conn.execute("SELECT value FROM store_meta WHERE key = 'vector_partition_next'").fetchone()[0]
    assert int(nxt) == 8 * 120  # the next partitioning: when the store is 8 times as big
    assert fmem.optimize() is None  # not due again
    assert "memento optimize" not in next(c for c in fmem.doctor()
                                          if c.name == "vector cells have their centroids").detail


def test_a_whole_backfill_partitions_when_due(fmem, monkeypatch):
    from memento.vectors import partitions
    monkeypatch.setattr(partitions, "PARTITION_FROM", 100)
    fill(fmem, unit_vectors(120))
    assert fmem.backfill(limit=5) == 0 and partition_count(fmem) == 0  # a small step (MCP idle): no
    assert fmem.backfill() == 0 and partition_count(fmem) == 21


def test_partitioning_a_slice_at_a_time_places_every_vector(fmem, monkeypatch):
    from memento.vectors import partitions
    monkeypatch.setattr(partitions, "CHUNK", 7)  # 300 vectors in 43 slices, the last one short
    x = unit_vectors(300, seed=11)
    ids = fill(fmem, x)
    assert fmem._vectors.partition() == 34
    placed = cells(fmem)
    assert sorted(placed) == sorted(ids)
    for i, v in zip(ids, x):
        assert placed[i] == nearest_cell(fmem, v)
    stored = dict(fmem._conn.execute("SELECT rowid, value00 FROM memories_vec_auxiliary").fetchall())
    assert all(stored[i] == v.tobytes() for i, v in zip(ids, x))  # every vector came back unchanged
    assert fmem._conn.execute("SELECT count(*) FROM temp.sqlite_schema").fetchone()[0] == 0  # staging gone


def test_a_store_from_before_cells_is_made_again_on_open(store_path):
    require_tier("full")
    x = unit_vectors(50)
    with memento.open(store_path, tier="full") as mem:
        ids = fill(mem, x)
        conn = mem._conn
        with conn:  # the layout of stores written before migration 008
            conn.execute("DROP TABLE memories_vec")
            conn.execute("CREATE VIRTUAL TABLE memories_vec USING vec0 (embedding_bits bit[384], +embedding blob)")
            conn.executemany("INSERT INTO memories_vec (rowid, embedding_bits, embedding) "
                             "VALUES (?, vec_quantize_binary(?), ?)",
                             [(i, v.tobytes(), v.tobytes()) for i, v in zip(ids, x)])
    with memento.open(store_path, tier="full") as mem:
        assert set(cells(mem).values()) == {0} and sorted(cells(mem)) == sorted(ids)
        assert mem.recall("x", k=1, mode="vector", vector=x[3].tobytes())[0].id == ids[3]
        assert all(c.ok for c in mem.doctor() if c.name.startswith("vector"))


def test_a_store_from_before_the_int8_column_is_made_again_with_its_cells(store_path, monkeypatch):
    require_tier("full")
    from memento.vectors import partitions
    monkeypatch.setattr(partitions, "PARTITION_FROM", 100)
    x = unit_vectors(150)
    with memento.open(store_path, tier="full") as mem:
        ids = fill(mem, x)
        assert mem.optimize() == 24
        before = cells(mem)
        conn = mem._conn
        with conn:  # the layout of stores written before the int8 column: cells and sign bits
            conn.execute("DROP TABLE memories_vec")
            conn.execute("CREATE VIRTUAL TABLE memories_vec USING vec0 "
                         "(cell integer partition key, embedding_bits bit[384], +embedding blob)")
            conn.executemany("INSERT INTO memories_vec (rowid, cell, embedding_bits, embedding) "
                             "VALUES (?, ?, vec_quantize_binary(?), ?)",
                             [(i, before[i], v.tobytes(), v.tobytes()) for i, v in zip(ids, x)])
    monkeypatch.setattr(partitions, "PARTITION_FROM", 1000)  # not due any more: the cells are kept anyway
    with memento.open(store_path, tier="full") as mem:
        assert mem._conn.execute(sqlfiles.query("vec_layout_current")).fetchone()[0] == 1
        assert partition_count(mem) == 24 and sorted(cells(mem)) == sorted(ids) and 0 not in cells(mem).values()
        assert all(cells(mem)[i] == nearest_cell(mem, v) for i, v in zip(ids, x))
        assert mem.recall("x", k=1, mode="vector", vector=x[7].tobytes())[0].id == ids[7]
        assert all(c.ok for c in mem.doctor() if c.name.startswith("vector"))


def test_the_index_that_finds_a_cells_chunks_is_made_again_on_open(store_path):
    require_tier("full")
    with memento.open(store_path, tier="full") as mem:
        fill(mem, unit_vectors(20))
        with mem._conn:
            mem._conn.execute("DROP INDEX memories_vec_chunks_by_cell")  # as a shell user might
    with memento.open(store_path, tier="full") as mem:
        assert mem._conn.execute(sqlfiles.query("vec_chunk_index_exists")).fetchone()[0] == 1
        plan = " ".join(str(r) for r in mem._conn.execute(
            "EXPLAIN QUERY PLAN SELECT chunk_id FROM memories_vec_chunks WHERE partition00 = 3"))
        assert "memories_vec_chunks_by_cell" in plan


def test_a_partitioning_rolled_back_leaves_no_cell_behind(fmem, monkeypatch):
    from memento.vectors import partitions
    monkeypatch.setattr(partitions, "PARTITION_FROM", 100)
    fill(fmem, unit_vectors(120))
    assert fmem.optimize() == 21
    fmem._conn.execute("DELETE FROM vector_partitions")  # back to one cell, by hand
    monkeypatch.setattr(partitions, "PARTITION_FROM", 1000)
    fmem._vectors.repair()
    assert fmem._conn.execute("SELECT count(*) FROM vector_partitions").fetchone()[0] == 0
    with pytest.raises(RuntimeError):
        with fmem._conn:  # a write transaction that partitions, then fails
            fmem._vectors._cells.forget()
            partitions.partition(fmem._conn, lambda chunk: create_sql(DIM, chunk), force=True)
            assert fmem._vectors._cells.of(fmem._conn, [unit_vectors(1)[0].tobytes()])[0] > 0
            raise RuntimeError("the batch fails after partitioning")
    one = fmem.remember("after the rollback", vector=unit_vectors(1, seed=5)[0].tobytes())
    assert cells(fmem)[one.id] == 0  # the rolled-back centroids are not used
    assert all(c.ok for c in fmem.doctor() if c.name == "vector cells have their centroids")


def test_a_store_embedded_again_by_another_model_gets_new_cells(store_path, monkeypatch):
    require_tier("full")
    from memento.vectors import partitions
    monkeypatch.setattr(partitions, "PARTITION_FROM", 100)
    with memento.open(store_path, tier="full") as mem:
        fill(mem, unit_vectors(120))
        assert mem.optimize() == 21
        mem._conn.execute("UPDATE store_meta SET value = 'some-other-model' WHERE key = 'model'")
    with memento.open(store_path, tier="full", reembed=True) as mem:
        # the old model's centroids are gone, and the next partitioning is due again (not at 8 x 120)
        assert partition_count(mem) == 0
        assert mem._conn.execute("SELECT value FROM store_meta WHERE key = 'vector_partition_next'").fetchone() is None
        assert mem.reembed() == 120
        assert partition_count(mem) == 21 and 0 not in cells(mem).values() and len(cells(mem)) == 120
        assert all(c.ok for c in mem.doctor() if c.name.startswith("vector"))
