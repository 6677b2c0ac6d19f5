"""How far the consumer group is behind the topic: reconciliation repairs only once it is caught up."""

from __future__ import annotations

from typing import Protocol


class ConsumerLag(Protocol):
    async def total_lag(self) -> int:
        """Records on the topic not yet committed by the consumer group, over all partitions.

        Raises `TemporaryFailure` when the broker cannot tell; never guesses 0.
        """
        ...
