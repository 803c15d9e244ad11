"""The vector side (vector tiers only): the index in the store (index.py), the embedder (embedder.py),
the model registry (registry.py), the model files (model_files.py) and near-duplicates
(near_duplicates.py). The minimal tier never imports any of it, save registry.py, which is pure data
that tier resolution reads to see whether a vector tier is installed."""
