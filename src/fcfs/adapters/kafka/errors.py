"""How aiokafka's exceptions become the ports' errors, in one place, so no vendor exception crosses a port.

A caller compensates only on `PublishFailed`, so the translation must be certain about
which broker errors prove a record absent: only the few that are a deterministic verdict on
the record's bytes or the request (`REFUSED_ON_EVERY_ATTEMPT`) do, once a record was handed
over; before the hand-over, any broker error leaves the record in this process only.
"""

from __future__ import annotations

from aiokafka.errors import (
    CorruptRecordException,
    InvalidRequiredAcksError,
    InvalidTimestampError,
    InvalidTopicError,
    KafkaError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    UnsupportedForMessageFormatError,
)

from fcfs.domain.errors import PublishFailed

REFUSED_ON_EVERY_ATTEMPT: tuple[type[KafkaError], ...] = (
    CorruptRecordException,
    InvalidRequiredAcksError,
    InvalidTimestampError,
    InvalidTopicError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    UnsupportedForMessageFormatError,
)


def broker_unavailable(error: KafkaError) -> PublishFailed:
    """A broker error before anything was handed over: nothing was written."""
    return PublishFailed(f"broker unavailable: {error!r}")
