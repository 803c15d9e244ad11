"""The pocket tier (semantic re-scoring on a Pi Zero 2 W or a 32-bit board, no numpy, no onnxruntime):
the static token table the package ships (table.py), its pure-Python WordPiece tokenizer
(tokenizer.py) and the store's side, memories_pocket (index.py). Only memento.store opens it, for a
store in the pocket tier; tier resolution only asks whether its table file is there."""

TABLE_FILE = "static-minilm-l6.sqlite"   # in this folder: the static token table (table.py)

