-- 008: vector partitions (vector tiers; issue 23). A big store's vectors are split into cells around
-- centroids computed from the store itself (k-means, memento/vectors/partitions.py); memories_vec
-- keeps each vector's cell as a vec0 partition key (sql/vector/create_vec.sql), and vector search
-- reads only the cells of the centroids nearest the query (sql/queries/vector_search.sql).
--   id        the cell, 1, 2, ...; cell 0 in memories_vec means "not partitioned" (a store with no
--             centroids yet: every vector is in cell 0 and search reads all of them, exactly)
--   centroid  float32 unit vector, the model's dimension
-- Plain table: the sqlite3 shell reads it without the extension. Only memento writes it, together
-- with every vector's cell, in one transaction; `memento doctor` checks that every vector's cell
-- has its centroid, and --repair partitions again.
CREATE TABLE vector_partitions (
  id INTEGER PRIMARY KEY CHECK (id > 0),
  centroid BLOB NOT NULL
);
