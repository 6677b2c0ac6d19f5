"""The consumer's liveness signal: a file whose modification time is the last turn of its poll loop.

A supervisor (or `fcfs consume --check`) reads the file's age without talking to the
process, so a consumer stuck in a call that never returns shows up as stale even though
its process is still running. The loop touches the file at most once per `interval`.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path


class Heartbeat:
    def __init__(self, path: Path | None = None, interval: float = 1.0) -> None:
        self.path = path
        self._interval = interval
        self.last_beat = time.monotonic()
        self._last_touch = float("-inf")

    def beat(self) -> None:
        self.last_beat = time.monotonic()
        if self.path is not None and self.last_beat - self._last_touch >= self._interval:
            self._last_touch = self.last_beat
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.touch()

    def seconds_since_beat(self) -> float:
        return time.monotonic() - self.last_beat

    def clear(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)


def heartbeat_age(path: Path) -> float | None:
    """Seconds since the consumer writing `path` last polled; None when it never did (or stopped cleanly)."""
    try:
        return max(time.time() - os.stat(path).st_mtime, 0.0)
    except FileNotFoundError:
        return None
