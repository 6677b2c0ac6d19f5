"""Progress for the long CLI runs: a live bar on a terminal, plain lines anywhere else.

Rich draws nothing when stderr is not a terminal (a log file, CI, a pipe), so the lab
looked dead for minutes there; `PlainProgress` writes one line per tenth of each task instead.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import IO, TYPE_CHECKING

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

if TYPE_CHECKING:
    from collections.abc import Iterator

    from rich.console import Console

STEPS = 10

Advance = Callable[[int], None]  # n more requests answered
Start = Callable[[str, int], Advance]  # a task's description and total → its advance


class PlainProgress:
    """`task: done/total (percent)` at every tenth of a task, so a log shows the run moving."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def start(self, description: str, total: int) -> Advance:
        done, reported = 0, 0
        self._write(f"{description}: started, {total} requests")

        def advance(n: int) -> None:
            nonlocal done, reported
            done += n
            tenths = min(done * STEPS // total, STEPS) if total > 0 else STEPS
            if tenths > reported:
                reported = tenths
                self._write(f"{description}: {done}/{total} ({tenths * 100 // STEPS}%)")

        return advance

    def _write(self, line: str) -> None:
        self._stream.write(line + "\n")
        self._stream.flush()


@contextlib.contextmanager
def progress_for(console: Console) -> Iterator[Start]:
    """`start(description, total)` → `advance(n)`: a live bar when `console` is a terminal, plain lines otherwise."""
    if not console.is_terminal:
        yield PlainProgress(console.file).start
        return
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:

        def start(description: str, total: int) -> Advance:
            task = progress.add_task(description, total=total)
            return lambda n: progress.advance(task, n)

        yield start
