"""Which tier to run: hardware detection and the resolution order.

Resolution: explicit tier= > $MEMENTO_TIER > the tier recorded in the store > hardware detection.
Tiers, lightest first: minimal (keywords), pocket (keywords re-scored by static token vectors, pure
Python), then the vector tiers tiny, light, full (a MiniLM model through onnxruntime, sqlite-vec).
Detection gives a board too small for a model runtime the pocket tier (its table ships inside the
package: it is installed unless that file was removed, and then such a board gets minimal), and a
machine that wants a vector tier none of whose extras is installed falls back to pocket too. minimal,
the keyword-only tier, is what a store recorded in a vector tier falls back to (a visit that may not
add a pocket side to another tier's store), and what `tier="minimal"` or $MEMENTO_TIER asks for.
An explicit tier that is not installed is an error naming the pip command; a detected or recorded
one falls back to the best installed tier, and the reason says so.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import List, Optional, Tuple

from .errors import TierUnavailableError

TIERS = ("minimal", "pocket", "tiny", "light", "full")
ALIASES = {"fast": "full"}  # other names a user may give a tier (the README calls full "fast")
VECTOR_TIERS = ("tiny", "light", "full")
POCKET = "pocket"   # ships inside the package: installed unless its table file was removed
FALLBACK_ORDER = ("full", "light", "tiny", "pocket", "minimal")  # from the detected tier, next lighter first
ARM_MACHINES = ("arm64", "aarch64", "armv7l")
NO_ONNXRUNTIME = ("armv7l",)   # 32-bit ARM: PyPI has no onnxruntime wheel, so no vector tier installs
GIB = 1024 ** 3


@dataclass(frozen=True)
class Hardware:
    ram_bytes: int           # usable RAM: the smaller of physical RAM and a cgroup memory limit
    cpu_count: int
    machine: str             # platform.machine()
    ram_source: str          # where ram_bytes came from, for `memento tier`


@dataclass(frozen=True)
class TierChoice:
    tier: str
    source: str              # "explicit", "MEMENTO_TIER", "store", "detected"
    reason: str
    fallback: bool = False   # the wanted tier was not installed; this one stands in for it
    wanted: Optional[str] = None   # with fallback: the tier that was wanted


def read_hardware() -> Hardware:
    import platform  # detection only: an explicit, env or recorded tier never needs it
    ram, source = _physical_ram()
    limit = _cgroup_memory_limit()
    if limit is not None and limit < ram:
        ram, source = limit, "cgroup memory limit"
    return Hardware(ram, os.cpu_count() or 1, platform.machine(), source)


def _physical_ram() -> Tuple[int, str]:
    try:
        # Linux: psutil's virtual_memory().total is this same MemTotal; reading it ourselves spares
        # importing psutil (~8 MB on an emulated Pi Zero 2 W).
        return _meminfo_total(), "/proc/meminfo"
    except (OSError, RuntimeError):
        import psutil  # macOS, Windows, BSDs (absent on armv7l, which has /proc/meminfo)
        return psutil.virtual_memory().total, "psutil"


def _meminfo_total(path: str = "/proc/meminfo") -> int:
    with open(path, encoding="ascii") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no MemTotal in {path}")


def _cgroup_memory_limit(root: str = "/sys/fs/cgroup", self_cgroup: str = "/proc/self/cgroup") -> Optional[int]:
    """The tightest memory limit on this process's own cgroup and its ancestors (cgroup v2 and v1),
    or None when unlimited or unknown."""
    limits = [_read_limit(f) for f in _limit_files(root, self_cgroup)]
    found = [v for v in limits if v is not None]
    return min(found) if found else None


def _limit_files(root: str, self_cgroup: str) -> List[str]:
    """memory.max (v2) / memory.limit_in_bytes (v1) files from the process's cgroup up to the root."""
    try:
        with open(self_cgroup, encoding="ascii") as f:
            lines = [line.strip().split(":", 2) for line in f if line.count(":") >= 2]
    except OSError:
        lines = []
    files = []
    for _, controllers, path in lines:
        if controllers == "":                                   # v2 unified hierarchy
            base, name = root, "memory.max"
        elif "memory" in controllers.split(","):                # v1 memory controller
            base, name = os.path.join(root, "memory"), "memory.limit_in_bytes"
        else:
            continue
        parts = [p for p in path.split("/") if p]
        files += [os.path.join(base, *parts[:i], name) for i in range(len(parts), -1, -1)]
    # No /proc/self/cgroup (or a namespaced view): the top of the hierarchy.
    return files or [os.path.join(root, "memory.max"), os.path.join(root, "memory", "memory.limit_in_bytes")]


def _read_limit(path: str) -> Optional[int]:
    try:
        with open(path, encoding="ascii") as f:
            value = f.read().strip()
    except OSError:
        return None
    return int(value) if value.isdigit() and int(value) < 1 << 60 else None  # v1: "unlimited" = huge


def detect_hardware_tier(hardware: Optional[Hardware] = None) -> str:
    """The rule we were given: 32-bit ARM (no onnxruntime), RAM < 1 GiB or (ARM and <= 2 CPUs) -> a
    tier with no model runtime: pocket (minimal where its table is missing, resolve() below); RAM < 4
    GiB -> light; else full."""
    return _detect(hardware or read_hardware())[0]


def _detect(hw: Hardware) -> Tuple[str, str]:
    ram = f"{hw.ram_bytes / GIB:.1f} GiB RAM ({hw.ram_source})"
    is_arm = hw.machine.lower() in ARM_MACHINES
    if hw.machine.lower() in NO_ONNXRUNTIME:
        return POCKET, f"{hw.machine}: no onnxruntime for 32-bit ARM"
    if hw.ram_bytes < GIB:
        return POCKET, f"{ram} < 1 GiB"
    if is_arm and hw.cpu_count <= 2:
        return POCKET, f"ARM ({hw.machine}) with {hw.cpu_count} CPUs <= 2"
    if hw.ram_bytes < 4 * GIB:
        return "light", f"{ram} < 4 GiB"
    return "full", f"{ram} >= 4 GiB, {hw.cpu_count} CPUs, {hw.machine}"


def missing_packages(tier: str) -> Tuple[str, ...]:
    """Pip packages the tier needs that are not installed (cheap: imports nothing heavy)."""
    if tier == "minimal":
        return ()
    if tier == POCKET:
        return () if _pocket_table().is_file() else (f"the pocket table {_pocket_table()}",)
    from .vectors import registry  # pure data and package metadata: nothing heavy is imported
    return tuple(registry.missing_packages(registry.model_for_tier(tier)))


def _pocket_table():
    from pathlib import Path

    from .pocket import TABLE_FILE  # the package's __init__: a name, nothing imported
    return Path(__file__).resolve().parent / "pocket" / TABLE_FILE


def install_hint(tier: str) -> str:
    return f"pip install 'memento-openclaw[{tier}]'"


def _check_name(tier: str, source: str) -> str:
    tier = ALIASES.get(tier, tier)
    if tier not in TIERS:
        raise TierUnavailableError(f"unknown tier {tier!r} (from {source}); choose one of {', '.join(TIERS)}")
    return tier


def resolve(explicit: Optional[str] = None, stored: Optional[str] = None,
            hardware: Optional[Hardware] = None, env: Optional[dict] = None) -> TierChoice:
    env = os.environ if env is None else env
    for tier, source in ((explicit, "explicit"), (env.get("MEMENTO_TIER") or None, "MEMENTO_TIER")):
        if tier is not None:
            tier = _check_name(tier, source)
            missing = missing_packages(tier)
            if missing:
                raise TierUnavailableError(
                    f"tier {tier!r} needs {', '.join(missing)}: {install_hint(tier)}")
            return TierChoice(tier, source, f"asked for ({source})")
    if stored is not None and stored in TIERS:
        # Another model could not read the store's vectors: fall back to keyword-only.
        return _best_installed(stored, "store", "recorded in the store", (stored, "minimal"))
    wanted, why = _detect(hardware or read_hardware())
    return _best_installed(wanted, "detected", why, FALLBACK_ORDER[FALLBACK_ORDER.index(wanted):])


def _best_installed(wanted: str, source: str, why: str, candidates) -> TierChoice:
    for tier in candidates:
        missing = missing_packages(tier)
        if not missing:
            if tier == wanted:
                return TierChoice(tier, source, why)
            return TierChoice(tier, source, f"{why} -> {wanted!r}, but it is not installed "
                                            f"({install_hint(wanted)}); using {tier!r}", fallback=True, wanted=wanted)
    raise AssertionError("the minimal tier is always installed")
