"""The results channel of one coupon, and the consumer's side of it (docs/design.md §10).

`<prefix>:{c:<couponId>}:results` carries the coupon's hash tag, so in a cluster the
channel lives with the coupon's keys and uses sharded pub/sub (SPUBLISH / SSUBSCRIBE): a
message travels to the one shard that owns the slot, not to every node. Value: JSON
`{"couponId": int, "persisted": [userId, ...], "refused": {"<userId>": reason}, "committedAt": epoch seconds}`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec
from redis.exceptions import RedisClusterException, RedisError

from fcfs.adapters.redis.keys import KeySpace
from fcfs.domain.results import CouponResults, NotificationFailed
from fcfs.ports.notifications import IssueNotifier

if TYPE_CHECKING:
    from fcfs.adapters.redis.client import RedisClient


class ResultsMessage(msgspec.Struct, rename="camel", forbid_unknown_fields=False):
    coupon_id: int
    persisted: list[int]
    refused: dict[int, str]
    committed_at: float


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(ResultsMessage)


def results_channel(keys: KeySpace, coupon_id: int) -> str:
    return f"{keys.tag(coupon_id)}:results"


def encode_results(results: CouponResults) -> bytes:
    message = ResultsMessage(results.coupon_id, sorted(results.persisted), dict(results.refused), results.committed_at)
    return _encoder.encode(message)


def decode_results(raw: bytes) -> CouponResults:
    """Raises `ValueError` for a message that is not one of ours."""
    try:
        message = _decoder.decode(raw)
    except msgspec.DecodeError as error:
        raise ValueError(str(error)) from None
    return CouponResults(message.coupon_id, frozenset(message.persisted), message.refused, message.committed_at)


class RedisIssueNotifier(IssueNotifier):
    """PUBLISH (SPUBLISH in a cluster) of each committed batch's results on the coupon's channel."""

    def __init__(self, client: RedisClient, prefix: str, *, sharded: bool) -> None:
        self._client = client
        self._keys = KeySpace(prefix)
        self._sharded = sharded

    async def publish(self, results: CouponResults) -> None:
        channel, payload = results_channel(self._keys, results.coupon_id), encode_results(results)
        try:
            if self._sharded:
                await self._client.spublish(channel, payload)
            else:
                await self._client.publish(channel, payload)
        except (RedisError, RedisClusterException, OSError) as error:
            raise NotificationFailed(f"results for coupon {results.coupon_id} not announced: {error!r}") from error
