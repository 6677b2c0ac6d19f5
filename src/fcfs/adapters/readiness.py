"""What `/ready` asks a backend: one cheap round trip, bounded in time, failing with the port's own error.

Shared by the adapters whose client has no deadline of its own (the SQL pool, the Kafka
producer); a dependency slower than `timeout` is down, and says so in the port's terms.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, ClassVar, Generic, TypeVar

from fcfs.ports.health import DependencyCheck

if TYPE_CHECKING:
    from fcfs.domain.errors import FcfsError

ClientT = TypeVar("ClientT")


class TimedCheck(DependencyCheck, Generic[ClientT]):
    """`name` is what `/ready` reports; `too_slow` the error a check that ran out of time raises."""

    name: str
    too_slow: ClassVar[type[FcfsError]]

    def __init__(self, client: ClientT, timeout: float = 2.0) -> None:
        self._client = client
        self._timeout = timeout

    async def check(self) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                await self._ask()
        except TimeoutError as error:
            raise self.too_slow(f"{self.name} did not answer within {self._timeout}s") from error

    async def _ask(self) -> None:
        """One round trip to the dependency, raising the port's error when it fails."""
        raise NotImplementedError
