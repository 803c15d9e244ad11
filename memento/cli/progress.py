"""A dependency-free progress bar on stderr: redrawn in place on a terminal, one summary line otherwise."""
from __future__ import annotations

import sys
import time
from typing import Optional, TextIO


class Progress:
    def __init__(self, total: Optional[int], label: str, stream: Optional[TextIO] = None):
        """total: None when unknown (a stream read once): then a count without a bar."""
        self.total, self.label, self.done = total, label, 0
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()
        self.started = time.perf_counter()

    def advance(self, n: int) -> None:
        self.done += n
        if self.live:
            self.stream.write("\r" + self._line())
            self.stream.flush()

    def close(self) -> None:
        self.stream.write(("\r" if self.live else "") + self._line() + "\n")
        self.stream.flush()

    def _line(self) -> str:
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        if self.total is None:
            return f"{self.label} {self.done:,} {self.done / elapsed:,.0f}/s {elapsed:.1f}s"
        share = self.done / self.total if self.total else 1.0
        bar = "#" * int(share * 30)
        return (f"{self.label} [{bar:<30}] {self.done:,}/{self.total:,} "
                f"{self.done / elapsed:,.0f}/s {elapsed:.1f}s")

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
