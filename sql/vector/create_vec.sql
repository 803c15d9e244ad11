-- The vector index of a vector tier. {dim} is the only value ever formatted into SQL: a validated
-- integer from the model registry (memento/models.py).
-- rowid = memories.id.
--   cell:           the vector's partition (vector_partitions.id, migration 008; 0 = the store is not
--                   partitioned), a vec0 partition key: vec0 keeps each cell's vectors apart, so a
--                   search names the cells it reads. Set when the vector is written, never updated
--                   (vec0 cannot): a new cell is a delete and an insert.
--   embedding_bits: the sign of each dimension, searched by hamming distance: a fast prefilter
--                   (~1 ms per 10k rows). Centering the vectors first did not help (measured).
--   embedding:      the float32 vector, an auxiliary column, read only for the prefilter's
--                   candidates to rank them exactly by cosine distance.
CREATE VIRTUAL TABLE IF NOT EXISTS memories_vec USING vec0 (
  cell integer partition key,
  embedding_bits bit[{dim}],
  +embedding blob
);
