"""A gate that sends the attempts on one coupon arriving in the same event-loop turn as one script call.

Under a burst, hundreds of attempts on the hot coupon are in flight at once; each used to
pay redis-py's full per-command cost (pool checkout, encode, await, parse). Here they
queue per coupon, and the next loop turn sends them all with `issue_many.lua`, which
decides each exactly as `issue.lua` would in arrival order. One round trip then serves a
batch instead of one attempt; a lone attempt waits at most one loop turn.

A failed call fails every attempt of its batch with `GateError` (the outcome of each is
unknown, as for a single call); the strategy and reconciliation treat them as before.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from fcfs.adapters.redis.failures import gate_errors
from fcfs.adapters.redis.gate import RedisIssuanceGate, verdict_of
from fcfs.adapters.redis.keys import KeySpace
from fcfs.adapters.redis.scripting import script
from fcfs.domain.errors import GateError
from fcfs.ports.gate import IssuanceGate

if TYPE_CHECKING:
    from collections.abc import Iterable

    from fcfs.adapters.redis.client import RedisClient
    from fcfs.domain.issuance import GateVerdict

Pending = list[tuple[int, "asyncio.Future[GateVerdict]"]]


class BatchingRedisIssuanceGate(IssuanceGate):
    def __init__(self, client: RedisClient, prefix: str, max_batch: int = 512) -> None:
        self._client = client
        self._keys = KeySpace(prefix)
        self._single = RedisIssuanceGate(client, prefix)
        self._issue_many = script("issue_many")
        self._max_batch = max_batch
        self._pending: dict[int, Pending] = {}
        self._sending: set[asyncio.Task[None]] = set()

    async def try_issue(self, coupon_id: int, user_id: int) -> GateVerdict:
        if type(user_id) is not int:
            raise GateError("user id must be an int")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[GateVerdict] = loop.create_future()
        pending = self._pending.get(coupon_id)
        if pending is None:
            pending = self._pending[coupon_id] = []
            loop.call_soon(self._flush, coupon_id)
        pending.append((user_id, future))
        if len(pending) >= self._max_batch:
            self._flush(coupon_id)
        return await future

    def _flush(self, coupon_id: int) -> None:
        batch = self._pending.pop(coupon_id, None)
        if not batch:
            return
        task = asyncio.get_running_loop().create_task(self._send(coupon_id, batch))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, coupon_id: int, batch: Pending) -> None:
        keys = self._keys.coupon(coupon_id)
        users = [str(user_id) for user_id, _ in batch]
        try:
            with gate_errors(f"issue coupon {coupon_id} to {len(batch)} users"):
                codes = await self._issue_many.run(self._client, (keys.stock, keys.users), users)
            if len(codes) != len(batch):
                raise GateError(f"issue_many answered {len(codes)} codes for {len(batch)} attempts")
            verdicts = [verdict_of(code) for code in codes]
        except GateError as error:
            for _, future in batch:
                if not future.done():
                    future.set_exception(GateError(str(error)))
            return
        for (_, future), verdict in zip(batch, verdicts, strict=True):
            if not future.done():
                future.set_result(verdict)

    async def compensate(self, coupon_id: int, user_id: int) -> bool:
        return await self._single.compensate(coupon_id, user_id)

    async def load_stock(self, coupon_id: int, stock: int, issued_users: Iterable[int]) -> None:
        await self._single.load_stock(coupon_id, stock, issued_users)

    async def remaining(self, coupon_id: int) -> int | None:
        return await self._single.remaining(coupon_id)

    async def holds_user(self, coupon_id: int, user_id: int) -> bool:
        return await self._single.holds_user(coupon_id, user_id)

    async def users(self, coupon_id: int) -> set[int]:
        return await self._single.users(coupon_id)

    async def forget(self, coupon_id: int) -> None:
        await self._single.forget(coupon_id)
