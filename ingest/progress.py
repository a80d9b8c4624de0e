"""A compact progress bar on stderr (no dependency): ``label [#####.....] 52% 1040/2000 310/s``.

On a terminal it redraws one line in place, at most ten times a second; when
stderr is not a terminal (CI, a log file) it prints a plain line at most every
few seconds instead, so logs stay readable.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(
        self,
        total: int,
        label: str = "",
        *,
        stream: TextIO | None = None,
        width: int = 30,
        unit: str = "rows",
    ) -> None:
        self.total = max(total, 0)
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.unit = unit
        self.done = 0
        self.started = time.monotonic()
        self._last_draw = 0.0
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._interval = 0.1 if self._tty else 5.0

    def advance(self, n: int = 1, *, note: str = "") -> None:
        self.done += n
        now = time.monotonic()
        if now - self._last_draw >= self._interval or self.done >= self.total:
            self._draw(now, note)

    def _line(self, now: float, note: str) -> str:
        frac = min(1.0, self.done / self.total) if self.total else 1.0
        filled = int(frac * self.width)
        bar = "#" * filled + "." * (self.width - filled)
        rate = self.done / max(now - self.started, 1e-9)
        text = (
            f"{self.label} [{bar}] {frac:4.0%} {self.done}/{self.total} {rate:,.0f} {self.unit}/s"
        )
        return f"{text} {note}".rstrip()

    def _draw(self, now: float, note: str = "") -> None:
        self._last_draw = now
        line = self._line(now, note)
        if self._tty:
            self.stream.write("\r" + line + "\x1b[K")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self, note: str = "") -> None:
        self._draw(time.monotonic(), note)
        if self._tty:
            self.stream.write("\n")
            self.stream.flush()


__all__ = ["Progress"]
