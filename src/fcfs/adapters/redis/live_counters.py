"""The live view's counters in Redis: answers per coupon per second, and the gate's figures in one read.

Answers are counted in `<prefix>:{c:<couponId>}:answers:<second>` (a hash code → count,
expiring after `ANSWER_TTL_SECONDS`), so every instance adds to and reads the same
figures. The issue path's budget is one Redis round trip per attempt, and this adds none
to it: `count` only adds to a dictionary (about 1 µs); the counts go to Redis as one
pipeline in a task of their own `FLUSH_SECONDS` after the first of them, and counts made
meanwhile (or while that write is in flight) are summed into it or the next. So a worker
writes the counters at most 1 / `FLUSH_SECONDS` times a second whatever the request rate,
and never makes an answer wait. (Flushing once per event-loop turn, like the metrics
`TurnBuffer`, cost 47 µs of CPU per attempt at one attempt per turn: a pipeline per
request at low load.) The live view reads a second `TICK_DELAY_SECONDS` (0.2 s) after it
ended, after every worker's flush. A failed write loses those counts (logged): they are
observations, not state.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from typing import TYPE_CHECKING

import structlog

from fcfs.adapters.redis.errors import gate_errors
from fcfs.adapters.redis.keys import KeySpace
from fcfs.domain.errors import GateError
from fcfs.domain.live_view import GateCounts
from fcfs.ports.live import AnswerTally, LiveCounters

if TYPE_CHECKING:
    from collections.abc import Callable

    from fcfs.adapters.redis.client import RedisClient

ANSWER_TTL_SECONDS = 120
FLUSH_SECONDS = 0.1
log = structlog.get_logger("fcfs.live")

Tallies = dict[tuple[int, int], Counter[str]]  # (coupon, second) → code → count


class RedisLiveCounters(LiveCounters, AnswerTally):
    def __init__(
        self, client: RedisClient, prefix: str, clock: Callable[[], float] = time.time, flush: float = FLUSH_SECONDS
    ) -> None:
        self._client = client
        self._flush = flush
        self._keys = KeySpace(prefix)
        self._clock = clock
        self._pending: Tallies = {}
        self._scheduled = False
        self._writing: asyncio.Task[None] | None = None

    def answers_key(self, coupon_id: int, second: int) -> str:
        return f"{self._keys.tag(coupon_id)}:answers:{second}"

    def count(self, coupon_id: int, code: str) -> None:
        key = (coupon_id, int(self._clock()))
        tally = self._pending.get(key)
        if tally is None:
            tally = self._pending[key] = Counter()
        tally[code] += 1
        if not self._scheduled and self._writing is None:
            self._schedule()

    async def read(self, coupon_id: int, second: int) -> GateCounts:
        keys = self._keys.coupon(coupon_id)
        with gate_errors(f"read the live counters of coupon {coupon_id}"):
            pipe = self._client.pipeline(transaction=False)
            _ = pipe.get(keys.stock)  # a pipeline queues the command: nothing to await until `execute`
            _ = pipe.scard(keys.users)
            _ = pipe.hgetall(self.answers_key(coupon_id, second))
            stock, admitted, answers = await pipe.execute()
        return GateCounts(
            remaining=None if stock is None else int(stock),
            admitted=int(admitted),
            answers={_text(code): int(count) for code, count in answers.items()},
        )

    async def aclose(self) -> None:
        """Write what is counted and not yet written (the last turn's answers), then return."""
        while self._writing is not None or self._pending:
            if self._writing is None:
                self._start_write()
            if self._writing is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.shield(self._writing)

    def _schedule(self) -> None:
        self._scheduled = True
        asyncio.get_running_loop().call_later(self._flush, self._start_write)

    def _start_write(self) -> None:
        self._scheduled = False
        if self._writing is not None or not self._pending:
            return
        batch, self._pending = self._pending, {}
        self._writing = asyncio.get_running_loop().create_task(self._write(batch))

    async def _write(self, batch: Tallies) -> None:
        try:
            with gate_errors("count issue answers"):
                pipe = self._client.pipeline(transaction=False)
                for (coupon_id, second), tally in batch.items():
                    key = self.answers_key(coupon_id, second)
                    for code, amount in tally.items():
                        _ = pipe.hincrby(key, code, amount)  # queued, sent by `execute`
                    _ = pipe.expire(key, ANSWER_TTL_SECONDS)
                await pipe.execute()
        except GateError as error:
            log.warning("live answer counts lost", answers=sum(t.total() for t in batch.values()), error=str(error))
        finally:
            self._writing = None
            if self._pending and not self._scheduled:
                self._schedule()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
