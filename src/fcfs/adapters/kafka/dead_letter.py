"""Dead letters (docs/design.md §5): the original value and key, with headers saying where, why, how often."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fcfs.adapters.kafka.delivery import TopicWriter
from fcfs.domain.errors import PublishFailed, PublishOutcomeUnknown
from fcfs.ports.publisher import DeadLetterPublisher

if TYPE_CHECKING:
    from fcfs.domain.events import IssueDeadLettered

SOURCE_HEADER = "fcfs-dlt-source"
REASON_HEADER = "fcfs-dlt-reason"
ATTEMPTS_HEADER = "fcfs-dlt-attempts"


class KafkaDeadLetterPublisher(TopicWriter, DeadLetterPublisher):
    """Any doubt is a failure here: a letter not known to be written must keep its batch uncommitted."""

    async def dead_letter(self, letter: IssueDeadLettered) -> None:
        headers = [
            (SOURCE_HEADER, letter.source.value.encode()),
            (REASON_HEADER, letter.reason.value.encode()),
            (ATTEMPTS_HEADER, str(letter.attempts).encode()),
        ]
        try:
            await self._write(letter.raw_value, letter.key, headers)
        except PublishOutcomeUnknown as error:
            raise PublishFailed(f"dead letter not confirmed: {error.detail}") from error
