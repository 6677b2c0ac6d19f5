"""One API worker's listeners for results: one Redis subscription per coupon that has listeners.

Every listener of a worker shares one pub/sub connection and one reader task; a coupon's
channel is subscribed when its first listener arrives and unsubscribed when its last one
leaves, and each announcement is handed, in process, only to the listeners of the users
it names. Nothing per listener reaches Redis.

No gap: `subscribe` returns only once Redis has confirmed the channel subscription (every
SUBSCRIBE sent for it is acknowledged), so a state read made after it and an announcement
published after that read cannot both miss the listener.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from typing import TYPE_CHECKING, Any

import structlog
from redis.exceptions import RedisClusterException, RedisError

from fcfs.adapters.redis.keys import KeySpace
from fcfs.adapters.redis.result_channel import decode_results, results_channel
from fcfs.adapters.result_waiter import FutureWaiter
from fcfs.domain.results import NotificationFailed
from fcfs.ports.notifications import IssueResults, ResultWaiter

if TYPE_CHECKING:
    from fcfs.adapters.redis.client import RedisClient

log = structlog.get_logger("fcfs.results")

REDIS_ERRORS = (RedisError, RedisClusterException, OSError)
SHARD_POLL_SECONDS = 0.05  # a cluster's shard connections are read in turn, each for at most this long
RETRY_SECONDS = 0.5


def _retrieve(future: asyncio.Future[None]) -> None:
    """A refused subscription nobody waited for is not an unretrieved-exception warning."""
    if not future.cancelled():
        future.exception()


class _Channel:
    __slots__ = ("coupon_id", "name", "ready", "waiters")

    def __init__(self, name: str, coupon_id: int, ready: asyncio.Future[None]) -> None:
        self.name = name
        self.coupon_id = coupon_id
        self.ready = ready
        self.waiters: dict[int, set[FutureWaiter]] = {}

    def add(self, user_id: int, waiter: FutureWaiter) -> None:
        self.waiters.setdefault(user_id, set()).add(waiter)

    def remove(self, user_id: int, waiter: FutureWaiter) -> None:
        same_user = self.waiters.get(user_id)
        if same_user is not None:
            same_user.discard(waiter)
            if not same_user:
                del self.waiters[user_id]


class _Listening:
    """One listener's `subscribe` context: joined on entry, left on exit.

    A class rather than an `asynccontextmanager`: an open result stream holds this for its
    whole life, and a generator-based context is a generator, its frame and a wrapper object
    per listener (thousands per worker, each walked by the garbage collector).
    """

    __slots__ = ("_coupon_id", "_fanout", "_joined", "_user_id")

    def __init__(self, fanout: RedisIssueResults, coupon_id: int, user_id: int) -> None:
        self._fanout = fanout
        self._coupon_id = coupon_id
        self._user_id = user_id
        self._joined: tuple[_Channel, FutureWaiter] | None = None

    async def __aenter__(self) -> ResultWaiter:
        channel, waiter = self._joined = self._fanout._join(self._coupon_id, self._user_id)
        try:
            await self._fanout._confirmed(channel)
        except BaseException:
            self._release()
            raise
        return waiter

    async def __aexit__(self, *_: object) -> None:
        self._release()

    def _release(self) -> None:
        if self._joined is not None:
            channel, waiter = self._joined
            self._joined = None
            self._fanout._leave(channel, self._user_id, waiter)


class RedisIssueResults(IssueResults):
    """The fan-out; `subscriptions` (channels held) and `listeners` are what tests and metrics read.

    SUBSCRIBE and UNSUBSCRIBE go out through one queue, in the order listeners came and went,
    from one writer task: a listener leaving never awaits Redis (it may be a cancelled
    stream), and a channel dropped and taken again is never left unsubscribed.
    """

    def __init__(self, client: RedisClient, prefix: str, *, sharded: bool, confirm_timeout: float = 2.0) -> None:
        self._pubsub: Any = client.pubsub()
        self._keys = KeySpace(prefix)
        self._sharded = sharded
        self._confirm_timeout = confirm_timeout
        self._channels: dict[str, _Channel] = {}
        self._unconfirmed: Counter[str] = Counter()
        self._commands: asyncio.Queue[tuple[bool, str]] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self._reader: asyncio.Task[None] | None = None
        self.listeners = 0

    @property
    def subscriptions(self) -> int:
        return len(self._channels)

    def subscribe(self, coupon_id: int, user_id: int) -> _Listening:
        return _Listening(self, coupon_id, user_id)

    def _join(self, coupon_id: int, user_id: int) -> tuple[_Channel, FutureWaiter]:
        name = results_channel(self._keys, coupon_id)
        channel = self._channels.get(name)
        if channel is None:
            channel = self._channels[name] = _Channel(name, coupon_id, asyncio.get_running_loop().create_future())
            channel.ready.add_done_callback(_retrieve)
            self._unconfirmed[name] += 1
            self._send(subscribe=True, name=name)
        waiter = FutureWaiter(asyncio.get_running_loop().create_future())
        channel.add(user_id, waiter)
        self.listeners += 1
        return channel, waiter

    def _leave(self, channel: _Channel, user_id: int, waiter: FutureWaiter) -> None:
        self.listeners -= 1
        channel.remove(user_id, waiter)
        if not channel.waiters and self._channels.get(channel.name) is channel:
            del self._channels[channel.name]
            self._send(subscribe=False, name=channel.name)

    def _send(self, *, subscribe: bool, name: str) -> None:
        self._commands.put_nowait((subscribe, name))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(), name="fcfs-results-writer")

    async def _confirmed(self, channel: _Channel) -> None:
        if channel.ready.done():  # every listener after a channel's first: no timer, no shield
            channel.ready.result()
            return
        try:
            await asyncio.wait_for(asyncio.shield(channel.ready), self._confirm_timeout)
        except TimeoutError:
            raise NotificationFailed(
                f"Redis did not confirm the results channel of coupon {channel.coupon_id}"
            ) from None

    async def _write(self) -> None:
        while True:
            subscribe, name = await self._commands.get()
            try:
                await self._command(subscribe, name)
            except REDIS_ERRORS as error:
                log.warning("results_subscription_failed", channel=name, subscribe=subscribe, error=repr(error))
                if subscribe:
                    self._refuse(name, error)
                continue
            if subscribe and (self._reader is None or self._reader.done()):
                self._reader = asyncio.create_task(self._read(), name="fcfs-results-reader")

    async def _command(self, subscribe: bool, name: str) -> None:
        if self._sharded:
            await (self._pubsub.ssubscribe(name) if subscribe else self._pubsub.sunsubscribe(name))
        else:
            await (self._pubsub.subscribe(name) if subscribe else self._pubsub.unsubscribe(name))

    def _refuse(self, name: str, error: BaseException) -> None:
        """A SUBSCRIBE that never left: its listeners hear `NotificationFailed`, the next listener tries again."""
        self._unconfirmed[name] -= 1
        channel = self._channels.pop(name, None)
        if channel is not None and not channel.ready.done():
            channel.ready.set_exception(NotificationFailed(f"results channel not subscribed: {error!r}"))

    async def _read(self) -> None:
        while True:
            try:
                message = await self._next_message()
            except REDIS_ERRORS as error:
                log.warning("results_reader_failed", error=repr(error), retry_in=RETRY_SECONDS)
                await asyncio.sleep(RETRY_SECONDS)
                continue
            if message is not None:
                self._dispatch(message)

    async def _next_message(self) -> dict[str, Any] | None:
        if not self._sharded:
            message: dict[str, Any] | None = await self._pubsub.get_message(timeout=None)
            return message
        if not self._pubsub.node_pubsub_mapping:
            await asyncio.sleep(SHARD_POLL_SECONDS)
            return None
        sharded: dict[str, Any] | None = await self._pubsub.get_sharded_message(timeout=SHARD_POLL_SECONDS)
        return sharded

    def _dispatch(self, message: dict[str, Any]) -> None:
        kind, raw_name = message.get("type"), message.get("channel")
        name = raw_name.decode() if isinstance(raw_name, bytes) else str(raw_name)
        if kind in ("subscribe", "ssubscribe"):
            self._confirm(name)
        elif kind in ("message", "smessage"):
            self._deliver(name, message.get("data"))

    def _confirm(self, name: str) -> None:
        if self._unconfirmed[name] > 0:
            self._unconfirmed[name] -= 1
        if self._unconfirmed[name] <= 0:
            del self._unconfirmed[name]
            channel = self._channels.get(name)
            if channel is not None and not channel.ready.done():
                channel.ready.set_result(None)

    def _deliver(self, name: str, data: object) -> None:
        channel = self._channels.get(name)
        if channel is None or not isinstance(data, bytes | str):
            return
        try:
            results = decode_results(data.encode() if isinstance(data, str) else data)
        except ValueError as error:
            log.warning("results_message_invalid", channel=name, error=str(error))
            return
        for user_id in (*results.persisted, *results.refused):
            for waiter in channel.waiters.get(user_id, ()):
                result = results.for_user(user_id)
                if result is not None and not waiter.future.done():
                    waiter.future.set_result(result)

    async def aclose(self) -> None:
        for task in (self._writer, self._reader):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, *REDIS_ERRORS):
                    await task
        with contextlib.suppress(*REDIS_ERRORS):
            await self._pubsub.aclose()
