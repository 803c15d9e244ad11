"""memento: long-term memory for AI agents, in one SQLite file.

    import memento
    with memento.open("agent.db") as mem:
        mem.remember("Alice switched from coffee to green tea", tags=["prefs"])
        for hit in mem.recall("what does Alice drink?", k=5):
            print(hit.id, hit.score, hit.text)
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

# The public names, and the module each lives in. They load on first use (PEP 562), so a process
# that only needs part of memento (`memento mcp` answering its handshake) does not pay for the rest.
_EXPORTS = {
    "open": "store", "Memento": "store", "Memory": "values", "Hit": "values", "Neighbour": "values",
    "Stats": "values", "StoreMeta": "meta", "Check": "health", "Fix": "health",
    "detect_hardware_tier": "tiers",
    "MementoError": "errors", "InvalidInputError": "errors", "MemoryNotFoundError": "errors",
    "StoreError": "errors", "IncompatibleStoreError": "errors", "ModelMismatchError": "errors",
    "TierUnavailableError": "errors", "ModelIntegrityError": "errors", "ExportError": "errors",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'memento' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
