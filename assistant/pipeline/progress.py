"""Progress of a long build, with an ETA, in a terminal or in a log.

Owns one small class: a tqdm bar when the stream is a terminal; otherwise a
plain line (tqdm's own meter: done/total, elapsed, remaining, rate) every
``interval`` seconds, so a build run from cron or redirected to a file still
says how far it got. A build shorter than ``interval`` prints no line.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Counts units of work; ``update(n)`` after each batch, ``close()`` at the end."""

    def __init__(
        self, total: int, *, desc: str, enabled: bool = True, stream: TextIO | None = None, interval: float = 10.0,
        unit: str = "text",
    ) -> None:
        self.total, self.desc, self.unit = total, desc, unit
        self.enabled = enabled and total > 0
        self._stream = stream if stream is not None else sys.stderr
        self._interval = interval
        self._n = 0
        self._start = self._last = time.monotonic()
        self._printed = False
        self._bar = None
        if self.enabled and _isatty(self._stream):
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=desc, unit=unit, file=self._stream, dynamic_ncols=True, leave=True)

    def update(self, n: int) -> None:
        self._n += n
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(n)
            return
        now = time.monotonic()
        if now - self._last >= self._interval:
            self._last = now
            self._line(now)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self.enabled and self._printed:
            self._line(time.monotonic())

    def _line(self, now: float) -> None:
        from tqdm import tqdm

        meter = tqdm.format_meter(self._n, self.total, now - self._start, prefix=self.desc, unit=self.unit, ncols=0)
        print(meter, file=self._stream, flush=True)
        self._printed = True


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
