"""Tier detection and resolution, with injected hardware facts."""
from __future__ import annotations

import pytest

from memento import TierUnavailableError, tiers
from memento.tiers import GIB, Hardware, detect_hardware_tier


def hw(ram_gib: float, cpus: int = 4, machine: str = "x86_64") -> Hardware:
    return Hardware(int(ram_gib * GIB), cpus, machine, "test")


@pytest.mark.parametrize("hardware, expected", [
    (hw(0.5, 4, "aarch64"), "pocket"),      # Pi Zero 2 W: 512 MB, no room for a model runtime
    (hw(0.9, 8, "x86_64"), "pocket"),       # RAM < 1 GiB wins whatever the CPU
    (hw(8, 2, "armv7l"), "pocket"),         # ARM with <= 2 CPUs
    (hw(8, 2, "arm64"), "pocket"),
    (hw(8, 4, "armv7l"), "pocket"),         # any 32-bit ARM: no onnxruntime wheel there
    (hw(2, 4, "aarch64"), "light"),         # Pi 4 2 GB
    (hw(3.9, 2, "x86_64"), "light"),        # small VM: 2 CPUs is fine off ARM
    (hw(4, 4, "aarch64"), "full"),          # Pi 5 / 4 GB
    (hw(24, 2, "x86_64"), "full"),
])
def test_detection_rule(hardware, expected):
    assert detect_hardware_tier(hardware) == expected


def test_cgroup_limit_is_honoured(tmp_path):
    nowhere = str(tmp_path / "no-such-proc-file")
    (tmp_path / "memory.max").write_text("536870912\n")
    assert tiers._cgroup_memory_limit(str(tmp_path), nowhere) == 512 * 1024 * 1024
    (tmp_path / "memory.max").write_text("max\n")
    assert tiers._cgroup_memory_limit(str(tmp_path), nowhere) is None


def test_nested_cgroup_limit_is_found(tmp_path):
    """A limit on the process's own (nested) cgroup counts, v2 and v1 alike; the tightest wins."""
    proc = tmp_path / "cgroup"
    (tmp_path / "agents" / "pi").mkdir(parents=True)
    (tmp_path / "agents" / "pi" / "memory.max").write_text("104857600\n")
    (tmp_path / "agents" / "memory.max").write_text("209715200\n")
    proc.write_text("0::/agents/pi\n")
    assert tiers._cgroup_memory_limit(str(tmp_path), str(proc)) == 100 * 1024 * 1024
    (tmp_path / "memory" / "lane").mkdir(parents=True)
    (tmp_path / "memory" / "lane" / "memory.limit_in_bytes").write_text("52428800\n")
    (tmp_path / "memory" / "memory.limit_in_bytes").write_text(str(2 ** 63 - 4096) + "\n")
    proc.write_text("7:cpu,cpuacct:/lane\n5:memory:/lane\n")
    assert tiers._cgroup_memory_limit(str(tmp_path), str(proc)) == 50 * 1024 * 1024


def test_meminfo_without_psutil(tmp_path):
    """armv7l has no psutil wheel: RAM comes from /proc/meminfo there."""
    (tmp_path / "meminfo").write_text("MemTotal:         492872 kB\nMemFree: 1 kB\n")
    assert tiers._meminfo_total(str(tmp_path / "meminfo")) == 492872 * 1024


def test_resolution_order():
    small = hw(0.5)
    assert tiers.resolve("minimal", stored="full", hardware=small, env={"MEMENTO_TIER": "full"}).source == "explicit"
    choice = tiers.resolve(None, stored=None, hardware=small, env={"MEMENTO_TIER": "minimal"})
    assert (choice.tier, choice.source) == ("minimal", "MEMENTO_TIER")
    choice = tiers.resolve(None, stored="minimal", hardware=hw(64), env={})
    assert (choice.tier, choice.source) == ("minimal", "store")
    choice = tiers.resolve(None, stored=None, hardware=small, env={})
    assert (choice.tier, choice.source, choice.fallback) == ("pocket", "detected", False)


def test_unknown_tier_is_a_clear_error():
    with pytest.raises(TierUnavailableError, match="unknown tier"):
        tiers.resolve("huge", env={})


def test_missing_tier_explicit_errors_detected_falls_back(monkeypatch):
    monkeypatch.setattr(tiers, "missing_packages", lambda t: ("fastembed",) if t != "minimal" else ())
    with pytest.raises(TierUnavailableError, match=r"pip install 'memento-openclaw\[full\]'"):
        tiers.resolve("full", env={})
    choice = tiers.resolve(None, hardware=hw(64), env={})
    assert choice.tier == "minimal" and choice.fallback and "not installed" in choice.reason
    # a store's recorded vector tier falls back to keyword-only, never to another model
    choice = tiers.resolve(None, stored="light", hardware=hw(64), env={})
    assert choice.tier == "minimal" and choice.source == "store"


def test_detection_gives_pocket_where_no_model_runs_and_minimal_without_its_table(monkeypatch):
    """The pocket table ships in the base package: a small board gets pocket, and so does a machine
    that wants a vector tier none of whose extras is installed; a store recorded in a vector tier falls
    back to keyword-only; without the table, minimal."""
    vector_missing = lambda t: ("fastembed",) if t in tiers.VECTOR_TIERS else ()  # noqa: E731
    monkeypatch.setattr(tiers, "missing_packages", vector_missing)
    assert tiers.missing_packages("pocket") == ()
    choice = tiers.resolve(None, hardware=hw(64), env={})
    assert (choice.tier, choice.wanted, choice.fallback) == ("pocket", "full", True)
    for small in (hw(0.5, 4, "aarch64"), hw(8, 4, "armv7l")):
        choice = tiers.resolve(None, hardware=small, env={})
        assert (choice.tier, choice.source, choice.fallback) == ("pocket", "detected", False)
    choice = tiers.resolve(None, stored="full", hardware=hw(64), env={})
    assert choice.tier == "minimal"              # a recorded vector tier: keyword-only, as before
    choice = tiers.resolve(None, stored="minimal", hardware=hw(0.5), env={})
    assert (choice.tier, choice.source) == ("minimal", "store")  # a store made keyword-only stays so
    assert tiers.resolve(None, hardware=hw(0.5), env={"MEMENTO_TIER": "minimal"}).tier == "minimal"
    monkeypatch.setattr(tiers, "missing_packages", lambda t: ("table",) if t != "minimal" else ())
    for stored, hardware in ((None, hw(0.5)), ("pocket", hw(0.5)), (None, hw(64))):
        choice = tiers.resolve(None, stored=stored, hardware=hardware, env={})
        assert choice.tier == "minimal" and choice.fallback and "not installed" in choice.reason


def test_a_new_store_on_a_small_board_is_pocket_and_a_keyword_only_one_stays_so(store_path, tmp_path, monkeypatch):
    import memento
    monkeypatch.setattr(tiers, "read_hardware", lambda: hw(0.5, 4, "aarch64"))   # a Pi Zero 2 W
    monkeypatch.delenv("MEMENTO_TIER", raising=False)
    with memento.open(store_path) as mem:
        assert (mem.tier, mem.tier_choice.source, mem.tier_choice.fallback) == ("pocket", "detected", False)
        mem.remember("Rosa drinks mate in the morning")
    with memento.open(store_path) as mem:
        assert mem.tier == "pocket" and mem.tier_choice.source == "store"
        assert mem.recall("what does Rosa drink?")[0].text == "Rosa drinks mate in the morning"
    older = tmp_path / "older" / "memento.db"
    with memento.open(older, tier="minimal") as mem:   # made keyword-only (say, by an earlier memento)
        mem.remember("Rosa drinks mate in the morning")
    with memento.open(older) as mem:
        assert mem.tier == "minimal" and mem.tier_choice.source == "store"


def test_fallback_tier_is_not_recorded(store_path, monkeypatch):
    import memento
    monkeypatch.setattr(tiers, "missing_packages", lambda t: ("fastembed",) if t != "minimal" else ())
    monkeypatch.setattr(tiers, "read_hardware", lambda: hw(64))  # a machine that wants `full`
    with memento.open(store_path) as mem:       # detection wants a vector tier; only minimal is here
        assert mem.tier == "minimal" and mem.tier_choice.fallback
        assert mem.meta().tier is None
