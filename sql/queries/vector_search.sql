-- The vector side of hybrid recall (recall_hybrid.sql includes vector_candidates), and the same
-- search on its own for the bench and the tests (nearest_vectors). Parameters as in recall_hybrid.sql.

-- part: vector_candidates
-- How many memories pass the filters (n: NULL when there is no filter), and from it the size of
-- the hamming-KNN list (knn_k): with a filter that passes many memories the list grows by the
-- filter's selectivity so that enough candidates survive it; with a selective filter
-- (vector_exact below does the work) or w_vector = 0 it is empty. :hidden (the number of hidden
-- memories, counted by memento's probe) grows it the same way, by total / (total - hidden):
-- growing it by :hidden itself (exact, but 1,000 more exact cosines with 10% of 10k hidden)
-- doubled hybrid recall time. With nothing hidden the size is what it was before.
filter_size AS MATERIALIZED (
  SELECT n, CASE
      WHEN :w_vector <= 0 OR :vector_top IS NOT NULL THEN 0
      WHEN n IS NULL AND :hidden = 0 THEN :prefilter
      WHEN n <= :exact_limit THEN 0
      WHEN :hidden = 0 THEN min(4096, :prefilter * (SELECT count(*) FROM memories) / max(n, 1))
      ELSE min(4096, 1 + CAST(:prefilter * (SELECT count(*) * 1.0 / max(coalesce(n, count(*)), 1)
                                                   * count(*) / max(count(*) - :hidden, 1) FROM memories) AS INTEGER))
    END AS knn_k
  FROM (SELECT CASE WHEN :filtering = 0 THEN NULL
                    ELSE (SELECT count(*) FROM filtered) END AS n)
),
-- The cells searched (memento/vectors/partitions.py): a store without centroids keeps every vector
-- in cell 0, and that one cell is read, all of it (an exact hamming KNN, as without cells). A
-- partitioned store: the cells of the :probe centroids nearest the query (one cosine per centroid,
-- ~2 x the square root of the vectors partitioned).
cells AS MATERIALIZED (
  SELECT 0 AS id WHERE NOT EXISTS (SELECT 1 FROM vector_partitions)
  UNION ALL
  SELECT id FROM (SELECT id FROM vector_partitions
                  WHERE (SELECT knn_k FROM filter_size) > 0
                  ORDER BY vec_distance_cosine(centroid, :qvec) LIMIT +:probe)
),
-- Vector side, broad search: a KNN list knn_k long (see filter_size) in each cell searched (vec0
-- runs one KNN per value of an IN list on its partition key). A store without cells: by hamming
-- distance over the sign bits, every vector read. A partitioned store: by the int8 vectors' distance
-- in each of its nearest cells, :prefilter being one cell's list (RankingSettings.cell_prefilter_factor
-- x candidates); sign bits would need ~4x as long a list there for the same recall (create_vec.sql).
vector_prefilter AS MATERIALIZED (
  SELECT rowid AS id
  FROM memories_vec
  WHERE :partitioned = 0 AND embedding_bits MATCH vec_quantize_binary(:qvec)
    AND k = (SELECT knn_k FROM filter_size)
    AND cell IN (SELECT id FROM cells)
  UNION ALL
  SELECT rowid AS id
  FROM memories_vec
  WHERE :partitioned = 1 AND embedding_int8 MATCH vec_quantize_int8(:qvec, 'unit')
    AND k = (SELECT knn_k FROM filter_size)
    AND cell IN (SELECT id FROM cells)
),
-- Vector side, selective filter: every memory passing it is scored exactly; a short KNN list
-- post-filtered would silently drop matches.
vector_exact AS MATERIALIZED (
  SELECT id FROM filtered
-- (no filter: skipped at once)
  WHERE :w_vector > 0 AND :filtering = 1 AND :vector_top IS NULL
    AND (SELECT n FROM filter_size) <= :exact_limit
),
-- The best :candidates by exact cosine distance, unless :vector_top holds them already (a JSON
-- array of [id, distance]: in a big store memento/split_scan.py finds them on a connection of its
-- own with nearest_vectors below, while the keyword side searches; the statement then scores every
-- one in its own snapshot). A vector made before the text changed (or by another model) is
-- ignored: its memory's embedded_with no longer names :model. Float vectors are read by rowid from
-- memories_vec_auxiliary, the plain table where vec0 keeps its auxiliary column (~1 us a read;
-- through vec0 itself a rowid read costs ~50 us, and even vec0's KNN handing them over costs ~4 us
-- each). The layout is checked when the store is opened (vectors.py).
vector AS MATERIALIZED (
  SELECT t.value ->> 0 AS id, t.value ->> 1 AS distance FROM json_each(:vector_top) AS t
  UNION ALL
  SELECT * FROM (
    SELECT c.id, vec_distance_cosine(a.value00, :qvec) AS distance
    FROM (SELECT id FROM vector_prefilter UNION ALL SELECT id FROM vector_exact) AS c
    CROSS JOIN memories_vec_auxiliary AS a ON a.rowid = c.id
-- ('+:model': see recall_parts.sql)
    JOIN memories AS m ON m.id = c.id AND m.embedded_with = +:model
    WHERE (:filtering = 0 OR c.id IN filtered)
      AND (m.expires_at IS NULL OR m.expires_at > :now)
      AND (:include_superseded OR m.superseded_by IS NULL)
    ORDER BY distance, c.id DESC
    LIMIT +:candidates)
),

-- name: nearest_vectors
-- The vector side's candidates alone (:candidates of them, with their exact cosine distance), as
-- recall_hybrid.sql finds them (:vector_top NULL): memento/split_scan.py runs it beside the keyword
-- search in a big store, bench/scale.py compares them with an exact KNN.
WITH
-- include: recall_filters
-- include: vector_candidates
nearest AS (SELECT id, distance FROM vector)
SELECT id, distance FROM nearest ORDER BY distance, id DESC;

-- name: vector_partitioned
-- Has the store centroids (memento/vectors/partitions.py)? Then :prefilter is a cell's list.
SELECT EXISTS (SELECT 1 FROM vector_partitions);
