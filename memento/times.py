"""The clock, and the one stored form of a time (fixed-width UTC text, so text order is time order)."""
from __future__ import annotations

from datetime import datetime, timezone


def format_utc(moment: datetime) -> str:
    """The one stored form of a time: fixed width (24 characters), so text order is time order.
    Years below 1000 are zero-padded (0500-06-01T00:00:00.000Z); strftime("%Y") would not pad them."""
    utc = moment.astimezone(timezone.utc)
    return (f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:"
            f"{utc.second:02d}.{utc.microsecond // 1000:03d}Z")


def now_utc() -> str:
    return format_utc(datetime.now(timezone.utc))
