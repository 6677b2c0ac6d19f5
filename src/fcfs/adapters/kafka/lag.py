"""Consumer lag from the broker's own books: the group's committed offsets against the partitions' ends."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError
from aiokafka.structs import TopicPartition

from fcfs.domain.errors import TemporaryFailure
from fcfs.ports.lag import ConsumerLag


class KafkaConsumerLag(ConsumerLag):
    """Reads offsets with a short-lived client that never joins the group, so asking does not rebalance it.

    A partition the group never committed counts from its beginning offset (the consumer
    starts there: `auto_offset_reset="earliest"`); a topic that does not exist has lag 0.
    A partition's end is the high watermark a fetch reports, not ListOffsets alone: tansu
    answers ListOffsets with the last record batch's base offset + 1, so ten records written
    as one batch would read as one, and reconciliation would see lag 0 while events remain.
    """

    def __init__(self, bootstrap_servers: str, topic: str, group_id: str, timeout: float = 10.0) -> None:
        self._bootstrap = bootstrap_servers
        self._topic = topic
        self._group = group_id
        self._timeout = timeout

    async def total_lag(self) -> int:
        client = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=self._group,
            enable_auto_commit=False,
        )
        try:
            async with asyncio.timeout(self._timeout):
                await client.start()
                return await self._lag(client)
        except (KafkaError, TimeoutError) as error:
            raise TemporaryFailure(f"consumer lag of {self._group} on {self._topic} unknown: {error!r}") from error
        finally:
            await client.stop()

    async def _lag(self, client: AIOKafkaConsumer) -> int:
        partitions = [TopicPartition(self._topic, p) for p in sorted(client.partitions_for_topic(self._topic) or ())]
        if not partitions:
            return 0
        ends = await self._high_watermarks(client, partitions)
        starts = await client.beginning_offsets(partitions)
        lag = 0
        for tp in partitions:
            committed = await client.committed(tp)
            position = starts[tp] if committed is None else max(committed, starts[tp])
            lag += max(ends[tp] - position, 0)
        return lag

    async def _high_watermarks(
        self, client: AIOKafkaConsumer, partitions: list[TopicPartition]
    ) -> dict[TopicPartition, int]:
        """Fetch from the last listed offset: the answer carries the whole last batch and the true end."""
        listed = await client.end_offsets(partitions)
        client.assign(partitions)
        for tp in partitions:
            client.seek(tp, max(listed[tp] - 1, 0))
        while any(client.highwater(tp) is None for tp in partitions):
            await client.getmany(*partitions, timeout_ms=100)
        return {tp: max(listed[tp], client.highwater(tp) or 0) for tp in partitions}
