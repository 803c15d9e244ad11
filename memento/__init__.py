"""memento: long-term memory for AI agents, in one SQLite file.

    import memento
    with memento.open("agent.db") as mem:
        mem.remember("Alice switched from coffee to green tea", tags=["prefs"])
        for hit in mem.recall("what does Alice drink?", k=5):
            print(hit.id, hit.score, hit.text)
"""
from .errors import (IncompatibleStoreError, InvalidInputError, MementoError, MemoryNotFoundError,
                     ModelIntegrityError, ModelMismatchError, StoreError, TierUnavailableError)
from .records import Hit, Memory, Stats
from .store import Memento, open
from .tiers import detect_hardware_tier

__version__ = "0.1.0"

__all__ = [
    "open", "Memento", "Memory", "Hit", "Stats", "detect_hardware_tier",
    "MementoError", "InvalidInputError", "MemoryNotFoundError", "StoreError", "IncompatibleStoreError",
    "ModelMismatchError", "TierUnavailableError", "ModelIntegrityError",
]
