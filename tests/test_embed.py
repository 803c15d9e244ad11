"""The embedding models, for real: every installed vector tier's model is built and loaded.

Model folders are built once per session into a temporary cache (the build takes 1-3 s per tier);
tests that damage files work on copies in their own tmp_path.
"""
from __future__ import annotations

import dataclasses
import math
import os
import shutil
import struct
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from memento.errors import ModelIntegrityError, TierUnavailableError
from memento.vectors import model_files, registry

pytestmark = pytest.mark.vector

REPO = Path(__file__).resolve().parent.parent
TIERS = list(registry.TIER_MODELS)


def _vec(blob: bytes):
    return struct.unpack(f"<{len(blob) // 4}f", blob)


def _cos(a: bytes, b: bytes) -> float:
    return sum(x * y for x, y in zip(_vec(a), _vec(b)))


def _need(tier: str) -> registry.ModelSpec:
    spec = registry.model_for_tier(tier)
    missing = registry.missing_packages(spec)
    if missing:
        pytest.skip(f"tier {tier!r} needs: {', '.join(missing)}")
    return spec


@pytest.fixture(scope="session")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(scope="session")
def embedders(cache):
    from memento.vectors.embedder import Embedder
    made = {}

    def get(tier: str):
        if tier not in made:
            made[tier] = Embedder(_need(tier), cache_dir=cache)
        return made[tier]
    return get


@pytest.fixture
def clean_env(monkeypatch):
    for name in ("MEMENTO_MODEL_DIR", "MEMENTO_ALLOW_DOWNLOAD", "MEMENTO_CACHE_DIR"):
        monkeypatch.delenv(name, raising=False)


def _flip_byte(path: Path, offset: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0xFF]))


# --- the registry ------------------------------------------------------------------------------

def test_registry_ids_are_distinct_and_384d():
    specs = list(registry.TIER_MODELS.values())
    assert len({s.id for s in specs}) == len(specs)
    assert all(s.dim == 384 and s.tier in TIERS for s in specs)
    with pytest.raises(TierUnavailableError):
        registry.model_for_tier("minimal")


def test_missing_packages_names_pip_distributions(clean_env):
    spec = dataclasses.replace(registry.FULL, requires=("apsw", "no-such-dist-for-memento"))
    assert registry.missing_packages(spec) == ["no-such-dist-for-memento"]


def test_import_does_not_load_the_runtime():
    code = ("import sys, memento.vectors.embedder, memento.vectors.model_files; "
            "heavy = [m for m in ('fastembed', 'onnxruntime', 'numpy', 'tokenizers') if m in sys.modules]; "
            "print(heavy); sys.exit(1 if heavy else 0)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --- vectors -----------------------------------------------------------------------------------

@pytest.mark.parametrize("tier", TIERS)
def test_the_loaded_session_does_not_spin_and_onnxruntime_is_left_as_it_was(embedders, tier):
    emb = embedders(tier)  # skips where the tier is not installed
    import onnxruntime as ort
    emb.embed(["load the model"])
    options = emb._model.model.model.get_session_options()
    for key in ("session.intra_op.allow_spinning", "session.inter_op.allow_spinning"):
        assert options.get_session_config_entry(key) == "0"
    assert ort.SessionOptions.__module__.startswith("onnxruntime")  # memento's scoped subclass is gone


@pytest.mark.parametrize("tier", TIERS)
def test_vectors_are_unit_float32(embedders, tier):
    emb = embedders(tier)
    blobs = emb.embed(["The cat sits on the mat", "", "ümlaut café 東京 🚀"])
    for blob in blobs:
        assert isinstance(blob, bytes) and len(blob) == 4 * 384
        assert math.isclose(math.sqrt(_cos(blob, blob)), 1.0, abs_tol=1e-5)
    assert emb.embed([]) == []
    assert emb.spec.tier == tier


@pytest.mark.parametrize("tier", TIERS)
def test_paraphrases_score_above_unrelated(embedders, tier):
    emb = embedders(tier)
    memory, query, unrelated, unrelated2 = emb.embed([
        "Alice switched from coffee to green tea",
        "what does Alice drink",
        "The quarterly budget review moved to Thursday",
        "Stock markets fell sharply today"])
    assert _cos(memory, query) > _cos(unrelated, query) + 0.2
    assert _cos(memory, query) > _cos(unrelated2, query) + 0.2
    cat, kitten, stocks = emb.embed(["The cat sits on the mat", "A kitten is resting on a rug",
                                     "Stock markets fell sharply today"])
    assert _cos(cat, kitten) > 0.5 > 0.2 > _cos(cat, stocks)


@pytest.mark.parametrize("tier", TIERS)
def test_batching_keeps_order_and_values(embedders, tier):
    """Texts are sorted by length and cut into token-budget batches; the result must still be in
    input order and match embedding each text alone. Padding does not change an fp32 vector; the int8
    model quantizes activations per batch, so there a text's batch-mates move it a little."""
    emb = embedders(tier)
    topics = ["green tea", "mountain bikes", "tax returns", "jazz piano", "sourdough bread", "rust compiler",
              "whale songs", "chess openings", "tomato plants"]
    texts = [f"{topic} " * n for topic, n in zip(topics, (40, 1, 300, 7, 120, 2, 60, 1000, 3))] * 3
    together = emb.embed(texts)
    alone = [emb.embed_one(t) for t in texts]
    for i, blob in enumerate(together):
        assert _cos(blob, alone[i]) > (0.99 if tier == "tiny" else 0.9999)
        assert all(_cos(blob, alone[i]) > _cos(blob, alone[j]) for j in range(9) if j != i % 9)


def test_long_text_is_truncated_not_rejected(embedders):
    emb = embedders("full")
    long_blob = emb.embed_one("green tea " * 5000)
    head_blob = emb.embed_one("green tea " * 200)   # 400 words: already past 256 tokens
    assert _cos(long_blob, head_blob) > 0.9999


def test_tiny_stays_close_to_full(embedders):
    full, tiny = embedders("full"), embedders("tiny")
    texts = ["Alice switched from coffee to green tea", "Remind Bob to bring the tent to Oslo on Friday",
             "The meeting about the security audit moved to Monday at 9:00."]
    for a, b in zip(full.embed(texts), tiny.embed(texts)):
        assert _cos(a, b) > 0.93


# --- files and integrity -----------------------------------------------------------------------

def test_model_folder_has_what_fastembed_needs(embedders, cache):
    emb = embedders("full")
    emb.load()
    folder = model_files.model_dir(emb.spec, cache)
    for name in ("model.onnx", model_files.DATA, "tokenizer.json", "tokenizer_config.json", "config.json",
                 "special_tokens_map.json", model_files.MANIFEST):
        assert (folder / name).is_file(), name
    import json
    assert json.loads((folder / "tokenizer_config.json").read_text())["model_max_length"] == 256


def test_corrupted_source_in_model_dir_is_refused(tmp_path, monkeypatch, clean_env):
    spec = _need("light")
    src = model_files.locate(spec.onnx_source)
    model_dir = tmp_path / "models"
    model_dir.mkdir()
    shutil.copyfile(src, model_dir / spec.onnx_source.name)
    _flip_byte(model_dir / spec.onnx_source.name, 1_000_000)
    monkeypatch.setenv("MEMENTO_MODEL_DIR", str(model_dir))
    assert model_files.locate(spec.onnx_source) == model_dir / spec.onnx_source.name
    with pytest.raises(ModelIntegrityError, match="sha256"):
        model_files.model_dir(spec, tmp_path / "cache")
    assert not any((tmp_path / "cache").glob(f"{spec.id}*")), "no folder is left behind"


def test_corrupted_cached_model_is_refused_even_after_a_good_load(embedders, cache, tmp_path, clean_env):
    """The stat shortcut must not hide a change: load once (hash remembered), damage, load again."""
    emb = embedders("full")
    emb.load()
    good = model_files.model_dir(emb.spec, cache)
    root = tmp_path / "cache"
    root.mkdir()
    folder = root / good.name
    shutil.copytree(good, folder)
    model_files.model_dir(emb.spec, root)            # hashes the copy and remembers it
    model_files.model_dir(emb.spec, root)            # stat unchanged: no re-hash, still fine
    _flip_byte(folder / model_files.DATA, 4_000_000)
    with pytest.raises(ModelIntegrityError, match="delete"):
        model_files.model_dir(emb.spec, root)
    from memento.vectors.embedder import Embedder
    with pytest.raises(ModelIntegrityError):
        Embedder(emb.spec, cache_dir=root).embed_one("hello")


def test_damaged_tokenizer_is_refused(embedders, cache, tmp_path, clean_env):
    emb = embedders("light")
    emb.load()
    root = tmp_path / "cache"
    good = model_files.model_dir(emb.spec, cache)
    shutil.copytree(good, root / good.name)
    _flip_byte(root / good.name / "tokenizer.json", 100)
    with pytest.raises(ModelIntegrityError):
        model_files.model_dir(emb.spec, root)


def test_concurrent_first_builds_do_not_collide(tmp_path, clean_env):
    spec = _need("light")
    root = tmp_path / "cache"
    results, errors = [], []

    def build():
        try:
            results.append(model_files.model_dir(spec, root))
        except Exception as e:   # pragma: no cover - reported below
            errors.append(e)
    threads = [threading.Thread(target=build) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(results)) == 1
    assert [p.name for p in root.iterdir() if p.is_dir()] == [results[0].name]   # no temp folders left


def test_missing_model_package_is_a_tier_error(tmp_path, clean_env):
    spec = dataclasses.replace(registry.LIGHT, onnx_source=dataclasses.replace(
        registry.LIGHT.onnx_source, dist="no-such-dist-for-memento"))
    with pytest.raises(TierUnavailableError, match="pip install"):
        model_files.model_dir(spec, tmp_path)


def test_cache_dir_resolution(monkeypatch, tmp_path, clean_env):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert model_files.cache_root() == tmp_path / "xdg" / "memento" / "models"
    monkeypatch.setenv("MEMENTO_CACHE_DIR", str(tmp_path / "mine"))
    assert model_files.cache_root() == tmp_path / "mine"
    assert model_files.cache_root(tmp_path / "arg") == tmp_path / "arg"


def _copy_of_good_folder(embedders, cache, tmp_path, tier: str = "light") -> tuple:
    """A private copy of a built model folder: (spec, cache root, folder)."""
    emb = embedders(tier)
    emb.load()
    good = model_files.model_dir(emb.spec, cache)
    root = tmp_path / "cache"
    root.mkdir()
    shutil.copytree(good, root / good.name)
    return emb.spec, root, root / good.name


@pytest.mark.parametrize("name", ["tokenizer_config.json", "config.json", "special_tokens_map.json"])
def test_every_config_file_is_checked(embedders, cache, tmp_path, clean_env, name):
    """Issue 11.10: one byte of a config file changes the vectors (e.g. model_max_length)."""
    spec, root, folder = _copy_of_good_folder(embedders, cache, tmp_path)
    model_files.model_dir(spec, root)                  # fine, and remembered in hashes.json
    import json
    data = json.loads((folder / name).read_text(encoding="utf-8"))
    data[next(iter(data))] = 1 if name == "config.json" else "[CHANGED]"
    (folder / name).write_text(json.dumps(data, indent=1), encoding="utf-8")
    with pytest.raises(ModelIntegrityError, match=name):
        model_files.model_dir(spec, root)


def test_a_file_nobody_made_in_the_model_folder_is_refused(embedders, cache, tmp_path, clean_env):
    """fastembed reads more files than memento writes (added_tokens.json...): none may slip in."""
    spec, root, folder = _copy_of_good_folder(embedders, cache, tmp_path)
    (folder / "added_tokens.json").write_text('{"[NEW]": 30522}', encoding="utf-8")
    with pytest.raises(ModelIntegrityError, match="added_tokens.json"):
        model_files.model_dir(spec, root)


def test_cached_weights_are_checked_against_the_pinned_hash(embedders, cache, tmp_path, clean_env):
    """Issue 11.10: a manifest rewritten to match damaged weights must not vouch for them."""
    import json
    spec, root, folder = _copy_of_good_folder(embedders, cache, tmp_path)
    _flip_byte(folder / model_files.DATA, 4_000_000)
    manifest = json.loads((folder / model_files.MANIFEST).read_text(encoding="utf-8"))
    manifest["sha256"][model_files.DATA] = model_files._sha256(folder / model_files.DATA)
    (folder / model_files.MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ModelIntegrityError, match="sha256"):
        model_files.model_dir(spec, root)


@pytest.mark.parametrize("junk", ["", "{", "[]", '"x"', '{"sha256": []}', '{"sha256": {"model.onnx": 5}}',
                                  '{"format": 1, "model": "x"}'])
def test_a_malformed_manifest_rebuilds_the_folder(embedders, cache, tmp_path, clean_env, junk):
    import json
    spec, root, folder = _copy_of_good_folder(embedders, cache, tmp_path)
    (folder / model_files.MANIFEST).write_text(junk, encoding="utf-8")
    assert model_files.model_dir(spec, root) == folder
    manifest = json.loads((folder / model_files.MANIFEST).read_text(encoding="utf-8"))
    assert manifest["model"] == spec.id and manifest["sha256"]["model.onnx"] == spec.onnx_sha256
    assert [p.name for p in root.iterdir() if p.is_dir()] == [folder.name]   # the bad copy is gone


@pytest.mark.parametrize("junk", ["", "{", "[]", "7", '{"/x": 3}', '{"/x": [1, 2, 3]}'])
def test_a_malformed_hash_memo_is_rebuilt(embedders, cache, tmp_path, clean_env, junk):
    import json
    spec, root, folder = _copy_of_good_folder(embedders, cache, tmp_path)
    (root / "hashes.json").write_text(junk, encoding="utf-8")
    assert model_files.model_dir(spec, root) == folder
    memo = json.loads((root / "hashes.json").read_text(encoding="utf-8"))
    assert isinstance(memo, dict) and str((folder / model_files.DATA).resolve()) in memo


def test_a_missing_model_file_rebuilds_nothing_and_is_refused(embedders, cache, tmp_path, clean_env):
    spec, root, folder = _copy_of_good_folder(embedders, cache, tmp_path)
    (folder / "tokenizer_config.json").unlink()
    with pytest.raises(ModelIntegrityError, match="tokenizer_config.json"):
        model_files.model_dir(spec, root)


def test_embedding_leaves_the_process_environment_alone(tmp_path, monkeypatch, clean_env):
    """A library must not change global state: no HF_HUB_* variables set behind the caller's back."""
    from memento.vectors.embedder import Embedder
    spec = _need("light")
    for name in ("HF_HUB_OFFLINE", "HF_HUB_DISABLE_TELEMETRY"):
        monkeypatch.delenv(name, raising=False)
    before = dict(os.environ)
    blob = Embedder(spec, cache_dir=tmp_path / "cache").embed_one("green tea")
    assert len(blob) == 4 * spec.dim
    assert dict(os.environ) == before


@pytest.mark.spawns_python
def test_loading_and_embedding_never_touch_the_network(tmp_path, clean_env):
    """Why HF_HUB_OFFLINE is not needed: with the folder given, no connection and no name lookup is
    made (audit hook; urllib3's import-time IPv6 probe only binds a local socket)."""
    spec = _need("light")
    outward = ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname", "socket.sendto", "socket.sendmsg")
    code = ("import sys; seen = []\n"
            f"sys.addaudithook(lambda event, args: seen.append(event) if event in {outward!r} else None)\n"
            "from memento.vectors.embedder import Embedder; from memento.vectors import registry\n"
            f"blob = Embedder(registry.model_for_tier({spec.tier!r}), cache_dir=sys.argv[1]).embed_one('tea')\n"
            "print(len(blob), sorted(set(seen)))\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "cache")], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split(None, 1) == [str(4 * spec.dim), "[]\n"], proc.stdout


def test_an_unwritable_hash_memo_only_costs_a_rehash(embedders, cache, tmp_path, clean_env):
    """hashes.json that cannot be written (here: a folder in its place) must not stop a load."""
    spec, root, folder = _copy_of_good_folder(embedders, cache, tmp_path)
    (root / "hashes.json").mkdir()
    assert model_files.model_dir(spec, root) == folder
    assert model_files.model_dir(spec, root) == folder
    assert not list(root.glob(".tmp-*.json")), "no temporary memo is left behind"
