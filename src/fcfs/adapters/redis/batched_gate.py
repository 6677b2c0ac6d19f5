"""A gate that sends the attempts on one coupon arriving in the same event-loop turn as one script call.

Under a burst, hundreds of attempts on the hot coupon are in flight at once; each used to
pay redis-py's full per-command cost (pool checkout, encode, await, parse). Here they
queue per coupon, and the next loop turn sends them all with `issue_many.lua`, which
decides each exactly as `issue.lua` would in arrival order. One round trip then serves a
batch instead of one attempt; a lone attempt waits at most one loop turn.

A failed call fails every attempt of its batch with `GateError` (the outcome of each is
unknown, as for a single call); the strategy and reconciliation treat them as before.
Everything else (compensation, stock administration) is the plain gate's, inherited.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from fcfs.adapters.redis.errors import gate_errors
from fcfs.adapters.redis.gate import RedisIssuanceGate, verdict_of
from fcfs.adapters.redis.scripting import script
from fcfs.domain.errors import GateError

if TYPE_CHECKING:
    from fcfs.adapters.redis.client import RedisClient
    from fcfs.domain.issuance import GateVerdict

Pending = list[tuple[int, "asyncio.Future[GateVerdict]"]]


class BatchingRedisIssuanceGate(RedisIssuanceGate):
    def __init__(self, client: RedisClient, prefix: str, max_batch: int = 512) -> None:
        super().__init__(client, prefix)
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
                codes = await self._issue_many.run(self._client, (keys.stock, keys.users, keys.state), users)
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
