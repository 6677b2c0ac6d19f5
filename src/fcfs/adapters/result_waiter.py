"""The one way a listener waits for its result, shared by the Redis fan-out and its in-process twin."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from fcfs.ports.notifications import ResultWaiter

if TYPE_CHECKING:
    from collections.abc import Callable

    from fcfs.domain.results import UserResult


class FutureWaiter(ResultWaiter):
    """Resolved by whoever hears the notification; waiting never consumes or cancels the future."""

    __slots__ = ("future",)

    def __init__(self, future: asyncio.Future[UserResult]) -> None:
        self.future = future

    async def wait(self, timeout: float) -> UserResult | None:
        if not self.future.done():
            await asyncio.wait((self.future,), timeout=timeout)
        return self.announced()

    def announced(self) -> UserResult | None:
        return self.future.result() if self.future.done() else None

    def on_announced(self, callback: Callable[[], object]) -> None:
        self.future.add_done_callback(lambda _: callback())
