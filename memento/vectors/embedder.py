"""Text -> vector, through fastembed, offline.

    emb = Embedder(model_for_tier("full"))
    blobs = emb.embed(["Alice switched from coffee to green tea"])   # [384 * 4 bytes]

Vectors come back as raw float32 little-endian bytes, L2-normalized: what sqlite-vec's vec0 takes as a
blob, and it keeps numpy out of the store. Queries and documents share one code path (MiniLM uses no
query prefix). fastembed, onnxruntime and numpy are imported on first use, never at import time.
"""
from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path
from typing import List, Optional, Sequence

from ..errors import TierUnavailableError
from . import model_files
from .registry import ModelSpec

# Batches are cut so that n x L (texts x padded length) <= TOKEN_BUDGET and n x L^2 <= ATTENTION_BUDGET
# (attention scores grow with L^2). Peak RSS comes from the activations of long batches, not from the
# weights, and onnxruntime keeps its arena at the peak afterwards. Measured with
# bench/embed_probe.py, full tier, 2 cores: 256 texts of 256 tokens peak at 1840 MB with one batch of
# 64, 620 MB at 2048 tokens, 318 MB at 512 (2 texts a batch), 267 MB one at a time, all at 20-23 docs/s;
# 10,000 short memories (~20 tokens) run at 251/s with a 512 budget and 309/s with 1024.
TOKEN_BUDGET = 1024
ATTENTION_BUDGET = 2 * 256 * 256
MAX_BATCH = 64          # short texts: larger batches are not faster

# onnxruntime's worker threads spin-wait after each run by default, burning the cores that the
# recall statement which follows the query's embedding needs (measured at 10k memories on 2 cores:
# hybrid recall 19-23 -> 12-13 ms CPU p50; a keyword recall right after an embedding 7 -> 3 ms).
SPINNING_OFF = {"session.intra_op.allow_spinning": "0", "session.inter_op.allow_spinning": "0"}

_registered = set()     # fastembed model names registered in this process
_register_lock = threading.Lock()


class Embedder:
    """Embeds texts with one model. Thread-safe to load; embed() calls are serialized."""

    def __init__(self, spec: ModelSpec, *, threads: Optional[int] = None,
                 cache_dir: Optional[os.PathLike] = None, token_budget: int = TOKEN_BUDGET):
        self._spec = spec
        self._threads = threads
        self._cache_dir = cache_dir
        self._token_budget = token_budget
        self._model = None          # fastembed.TextEmbedding
        self._counter = None        # tokenizers.Tokenizer without padding, to count tokens
        self._lock = threading.Lock()

    @property
    def spec(self) -> ModelSpec:
        return self._spec

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> None:
        """Build/verify the model folder and load the model now (otherwise the first embed does)."""
        with self._lock:
            if self._model is None:
                self._load()

    def embed_one(self, text: str) -> bytes:
        return self.embed([text])[0]

    def embed(self, texts: Sequence[str]) -> List[bytes]:
        """One L2-normalized float32 little-endian vector (4 * dim bytes) per text, in order."""
        texts = list(texts)
        if not texts:
            return []
        with self._lock:
            if self._model is None:
                self._load()
            out: List[Optional[bytes]] = [None] * len(texts)
            for idx in self._batches(texts):
                batch = [texts[i] for i in idx]
                for i, vec in zip(idx, self._model.embed(batch, batch_size=len(batch))):
                    out[i] = vec.astype("<f4", copy=False).tobytes()
        return out  # type: ignore[return-value]

    def _batches(self, texts: List[str]) -> List[List[int]]:
        """Indices of `texts`, shortest first, cut so each batch's padded size fits the token budget.
        Sorting also means little padding: neighbours have about the same length."""
        if len(texts) == 1:
            return [[0]]
        lengths: List[int] = []
        for start in range(0, len(texts), 512):   # in slices: 10,000 Encodings at once hold ~35 MB
            lengths += [len(e.ids) for e in self._counter.encode_batch(texts[start:start + 512])]
        order = sorted(range(len(texts)), key=lengths.__getitem__)
        batches: List[List[int]] = []
        batch: List[int] = []
        for i in order:
            # lengths ascend, so text i sets the batch's padded length
            n, length = len(batch) + 1, lengths[i]
            if batch and (n > MAX_BATCH or n * length > self._token_budget
                          or n * length * length > ATTENTION_BUDGET):
                batches.append(batch)
                batch = []
            batch.append(i)
        batches.append(batch)
        return batches

    def _load(self) -> None:
        spec = self._spec
        hub = False
        try:
            folder = model_files.model_dir(spec, self._cache_dir)
        except TierUnavailableError:
            # The model's package is not installed: fetch from the hub only when the user said so.
            if os.environ.get("MEMENTO_ALLOW_DOWNLOAD") != "1" or spec.hub_model is None:
                raise
            hub = True
        # No HF_HUB_OFFLINE: a library does not change its host's environment, and none is needed,
        # since with specific_model_path fastembed returns the folder without contacting the hub
        # (fastembed 0.9 ModelManagement.download_model; test_embed checks os.environ is unchanged).
        try:
            from fastembed import TextEmbedding
            from tokenizers import Tokenizer
        except ImportError as e:
            raise TierUnavailableError(f"tier {spec.tier!r} needs fastembed ({e}): "
                                       f"pip install 'memento-openclaw[{spec.tier}]'") from None
        if hub:
            # Untested offline: fastembed's own fp32 export of the same model, verified by the hub's
            # checksums only (memento cannot pin its hash).
            with _sessions_without_spinning():
                self._model = TextEmbedding(spec.hub_model, threads=self._threads,
                                            cache_dir=str(model_files.cache_root(self._cache_dir) / "hub"))
            tokenizer = self._model.model.tokenizer
        else:
            name = _register(spec)
            # cache_dir: fastembed creates it even when unused; keep it out of /tmp/fastembed_cache.
            with _sessions_without_spinning():
                self._model = TextEmbedding(name, specific_model_path=str(folder), threads=self._threads,
                                            cache_dir=str(folder.parent))
            tokenizer = Tokenizer.from_file(str(Path(folder) / "tokenizer.json"))
        counter = Tokenizer.from_str(tokenizer.to_str())
        counter.no_padding()
        counter.enable_truncation(spec.max_tokens)
        if hub:  # fastembed's files say 512; the model was trained at max_tokens
            tokenizer.enable_truncation(spec.max_tokens)
        self._counter = counter


def _register(spec: ModelSpec) -> str:
    """Register `spec` with fastembed once per process (add_custom_model raises on a second call)."""
    from fastembed import TextEmbedding
    from fastembed.common.model_description import ModelSource, PoolingType
    name = f"memento/{spec.id}"
    with _register_lock:
        if name not in _registered:
            known = {m["model"].lower() for m in TextEmbedding.list_supported_models()}
            if name.lower() not in known:   # e.g. registered by another copy of this module
                TextEmbedding.add_custom_model(
                    model=name, dim=spec.dim, normalization=spec.normalize, model_file="model.onnx",
                    sources=ModelSource(hf=name),   # never contacted: specific_model_path is given
                    pooling=PoolingType.MEAN if spec.pooling == "mean" else PoolingType.DISABLED,
                    output_name=spec.output_name, description=spec.source, license="Apache-2.0")
            _registered.add(name)
    return name


_spinning_lock = threading.Lock()


@contextlib.contextmanager
def _sessions_without_spinning():
    """While fastembed loads a model, the onnxruntime SessionOptions it creates carry SPINNING_OFF
    (fastembed exposes no such option; it calls onnxruntime.SessionOptions() when loading)."""
    import onnxruntime as ort
    with _spinning_lock:
        base = ort.SessionOptions

        class WithoutSpinning(base):  # type: ignore[misc, valid-type]
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                for key, value in SPINNING_OFF.items():
                    self.add_session_config_entry(key, value)

        ort.SessionOptions = WithoutSpinning
        try:
            yield
        finally:
            ort.SessionOptions = base
