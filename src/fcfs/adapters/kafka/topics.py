"""Creating the topics the pipeline needs, once, tolerating that someone already did."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, for_code

from fcfs.domain.errors import PublishFailed

if TYPE_CHECKING:
    from collections.abc import Mapping

NO_ERROR = 0


async def ensure_topics(
    bootstrap_servers: str, partitions: Mapping[str, int], *, replication_factor: int = 1, timeout: float = 10.0
) -> None:
    """Create each topic with its partition count unless it exists; an existing topic is left as it is.

    Raises `PublishFailed` when the broker cannot be reached or refuses for another reason.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=int(timeout * 1000))
    try:
        async with asyncio.timeout(timeout):
            await admin.start()
            response = await admin.create_topics(
                [NewTopic(name, count, replication_factor) for name, count in partitions.items()]
            )
    except (KafkaError, TimeoutError) as error:
        raise PublishFailed(f"could not create topics {sorted(partitions)}: {error!r}") from error
    finally:
        await admin.close()
    for topic, code, message in response.topic_errors:
        if code != NO_ERROR and for_code(code) is not TopicAlreadyExistsError:
            raise PublishFailed(f"broker refused to create topic {topic}: {message or for_code(code).__name__}")
