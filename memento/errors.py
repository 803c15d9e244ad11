"""Every error memento raises on purpose derives from MementoError.

Each subclass says what went wrong and, where there is one, what to do about it.
"""


class MementoError(Exception):
    """Base class of all memento errors."""


class InvalidInputError(MementoError, ValueError):
    """An argument was rejected before anything was written (wrong type, empty text, bad tag...)."""


class MemoryNotFoundError(MementoError, LookupError):
    """No memory has this id (it never existed, or it was forgotten)."""


class StoreError(MementoError):
    """The store file cannot be used as asked (read-only, disk full, locked for too long...)."""


class IncompatibleStoreError(StoreError):
    """The file is not a memento store this version can open; it was left untouched."""


class ModelMismatchError(IncompatibleStoreError):
    """The store's vectors were made by another model than the one asked for."""


class TierUnavailableError(MementoError):
    """The requested tier needs packages that are not installed (the message names the pip command)."""


class ModelIntegrityError(MementoError):
    """A model file is missing or its sha256 does not match the registry; it was not loaded."""


class ExportError(MementoError):
    """An export could not be written where it was asked (not a folder, no permission, disk full);
    nothing half-written was left there."""
