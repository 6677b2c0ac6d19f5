"""`fcfs demo --console`: the live event console opened on the race the demo runs (docs/design.md, the live view).

The URL goes to stderr (stdout stays the report, or JSON); a browser is opened only where
there is a display to open it on. The race waits `LEAD_SECONDS` so the page is connected
when the first user arrives, and the server keeps serving `LINGER_SECONDS` after the race
(persistence drained), so the operator sees the end of the story; Ctrl-C ends the wait early.
"""

from __future__ import annotations

import os
import sys
import time
import webbrowser
from contextlib import contextmanager
from typing import TYPE_CHECKING

from fcfs.entrypoints.http.console import console_url

if TYPE_CHECKING:
    from collections.abc import Iterator

LEAD_SECONDS = 5.0
LINGER_SECONDS = 15.0


def has_display() -> bool:
    return sys.platform in ("darwin", "win32") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _pause(seconds: float) -> bool:
    """Sleep; False when the operator pressed Ctrl-C (then the demo goes on without waiting)."""
    try:
        time.sleep(seconds)
    except KeyboardInterrupt:
        return False
    return True


@contextmanager
def watched_race(base_url: str, coupon_id: int, *, enabled: bool) -> Iterator[None]:
    """Around the race and its drain: announce (and open) the console before, keep serving after."""
    if not enabled:
        yield
        return
    url = console_url(base_url, coupon_id)
    print(f"console: {url} (the race starts in {LEAD_SECONDS:g} s)", file=sys.stderr, flush=True)
    if has_display():
        webbrowser.open(url)
    _pause(LEAD_SECONDS)
    yield
    print(f"console: serving {LINGER_SECONDS:g} s more (Ctrl-C ends it): {url}", file=sys.stderr, flush=True)
    _pause(LINGER_SECONDS)
