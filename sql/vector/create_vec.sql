-- The vector index of a vector tier. {dim} and {chunk} are the only values ever formatted into SQL:
-- a validated integer from the model registry (memento/models.py), and vec0's chunk_size, an integer
-- memento/vectors/partitions.py computes (1,024 in a table of one cell; about a cell's mean size in a
-- partitioned one: vec0 gives each cell whole chunks of its own).
-- rowid = memories.id.
--   cell:           the vector's partition (vector_partitions.id, migration 008; 0 = the store is not
--                   partitioned), a vec0 partition key: vec0 keeps each cell's vectors apart, so a
--                   search names the cells it reads. Set when the vector is written, never updated
--                   (vec0 cannot): a new cell is a delete and an insert.
--   embedding_bits: the sign of each dimension, searched by hamming distance: the prefilter of a
--                   store without cells (~1 ms per 10k rows). Centering the vectors first did not
--                   help (measured).
--   embedding_int8: each dimension as an int8 (vec_quantize_int8 'unit'), the prefilter inside the
--                   cells of a partitioned store: ranked by it, the 10 best of each cell hold the
--                   true nearest 10 where the sign bits' 40 best did not (bench/ann_recall.py:
--                   recall@10 against exact KNN at 1M vectors 0.96 vs 0.79, for the same time). Too
--                   slow to read every vector of a store without cells (~1 us a vector).
--   embedding:      the float32 vector, an auxiliary column, read only for the prefilter's
--                   candidates to rank them exactly by cosine distance.
CREATE VIRTUAL TABLE IF NOT EXISTS memories_vec USING vec0 (
  cell integer partition key,
  embedding_bits bit[{dim}],
  embedding_int8 int8[{dim}],
  +embedding blob,
  chunk_size = {chunk}
);
-- vec0 finds a cell's chunks by scanning every chunk of the table (sqlite-vec 0.1.9 keeps no index
-- on them): at 1M vectors in 2,000 cells, a search reading 16 cells took 10.2 ms with that scan, 8.6 without.
-- This index on vec0's own chunk table lets it seek instead; vec0 drops it with the table.
CREATE INDEX IF NOT EXISTS memories_vec_chunks_by_cell ON memories_vec_chunks (partition00);
