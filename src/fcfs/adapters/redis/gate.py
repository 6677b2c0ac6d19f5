"""The Lua issuance gate (docs/design.md §4): one EVALSHA per issue attempt, atomic in Redis."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from fcfs.adapters.redis.errors import gate_errors
from fcfs.adapters.redis.keys import KeySpace
from fcfs.adapters.redis.scripting import script
from fcfs.domain.errors import GateError, InvalidInput
from fcfs.domain.issuance import GateVerdict
from fcfs.ports.controls import GateControls
from fcfs.ports.gate import GateStock, IssuanceGate

if TYPE_CHECKING:
    from collections.abc import Iterable

    from fcfs.adapters.redis.client import RedisClient
    from fcfs.domain.coupon_state import StateMark

_VERDICTS = {
    0: GateVerdict.ISSUED,
    1: GateVerdict.ALREADY_ISSUED,
    2: GateVerdict.SOLD_OUT,
    3: GateVerdict.NOT_LOADED,
    4: GateVerdict.PAUSED,
    5: GateVerdict.CLOSED,
}
LOAD_CHUNK = 10_000


def verdict_of(code: object) -> GateVerdict:
    """The verdict for a script's return code (issue.lua, issue_many.lua)."""
    if isinstance(code, int | str | bytes):
        try:
            return _VERDICTS[int(code)]
        except (KeyError, ValueError):
            pass
    raise GateError(f"issue script answered {code!r}")


STAGING_TTL_SECONDS = 3600  # only the scratch set expires; the live keys never do


class RedisIssuanceGate(IssuanceGate, GateStock, GateControls):
    """Protects invariants 1, 2 and 5 in Redis: stock + admitted users stays equal to what was loaded.

    Every method raises `GateError` when Redis fails. For `try_issue` and `compensate` a
    timeout leaves the outcome unknown (the script may have run); the strategy decides
    what to answer, and reconciliation repairs a user held without a row.
    """

    def __init__(self, client: RedisClient, prefix: str) -> None:
        self._client = client
        self._keys = KeySpace(prefix)
        self._issue = script("issue")
        self._compensate = script("compensate")
        self._load = script("load_stock")
        self._mirror = script("mirror_state")
        self._add = script("add_stock")

    async def try_issue(self, coupon_id: int, user_id: int) -> GateVerdict:
        keys = self._keys.coupon(coupon_id)
        with gate_errors(f"issue coupon {coupon_id} to user {user_id}"):
            code = await self._issue.run(self._client, (keys.stock, keys.users, keys.state), (_user(user_id),))
        return verdict_of(code)

    async def compensate(self, coupon_id: int, user_id: int) -> bool:
        keys = self._keys.coupon(coupon_id)
        with gate_errors(f"compensate coupon {coupon_id} for user {user_id}"):
            undone = await self._compensate.run(self._client, (keys.stock, keys.users), (_user(user_id),))
        return int(undone) == 1

    async def load_stock(
        self,
        coupon_id: int,
        stock: int,
        issued_users: Iterable[int],
        state: StateMark | None = None,
        total: int | None = None,
    ) -> None:
        """Stage the users in a scratch set (in chunks), then swap it in and set the stock atomically.

        Issue attempts during the staging still see the old state; they never see a half-loaded one.
        """
        if type(stock) is not int or stock < 0:
            raise InvalidInput("stock must be a non-negative integer")
        keys = self._keys.coupon(coupon_id)
        staging = keys.staging(uuid.uuid4().hex)
        users = sorted({_user(user_id) for user_id in issued_users})
        with gate_errors(f"load stock of coupon {coupon_id}"):
            for start in range(0, len(users), LOAD_CHUNK):
                await self._client.sadd(staging, *users[start : start + LOAD_CHUNK])
                if start == 0:
                    await self._client.expire(staging, STAGING_TTL_SECONDS)
            mirrored = ("", 0) if state is None else (state.state.value, state.version)
            code = await self._load.run(
                self._client,
                (keys.stock, keys.users, staging, keys.state),
                (stock, len(users), *mirrored, "" if total is None else total),
            )
        if int(code) != 0:
            raise GateError(f"stock of coupon {coupon_id} not loaded: the staged users vanished")

    async def mirror_state(self, coupon_id: int, mark: StateMark) -> None:
        keys = self._keys.coupon(coupon_id)
        with gate_errors(f"mirror the state of coupon {coupon_id}"):
            await self._mirror.run(self._client, (keys.state,), (mark.state.value, mark.version))

    async def add_stock(self, coupon_id: int, units: int, total: int | None = None) -> int | None:
        if type(units) is not int or units < 1:
            raise InvalidInput("units must be a positive integer")
        keys = self._keys.coupon(coupon_id)
        with gate_errors(f"add stock to coupon {coupon_id}"):
            stock = await self._add.run(self._client, (keys.stock, keys.state), (units, "" if total is None else total))
        return None if stock is None else int(stock)

    async def remaining(self, coupon_id: int) -> int | None:
        with gate_errors(f"read stock of coupon {coupon_id}"):
            value = await self._client.get(self._keys.coupon(coupon_id).stock)
        return None if value is None else int(value)

    async def holds_user(self, coupon_id: int, user_id: int) -> bool:
        with gate_errors(f"read users of coupon {coupon_id}"):
            found = await self._client.sismember(self._keys.coupon(coupon_id).users, _user(user_id))
        return bool(found)

    async def users(self, coupon_id: int) -> set[int]:
        """Scanned in batches, so a large set never blocks Redis the way one SMEMBERS would."""
        with gate_errors(f"read users of coupon {coupon_id}"):
            members = self._client.sscan_iter(self._keys.coupon(coupon_id).users, count=1000)
            return {int(member) async for member in members}

    async def forget(self, coupon_id: int) -> None:
        """Drop the gate's keys (stock, users, state); the unconfirmed-event ledger is not the gate's."""
        keys = self._keys.coupon(coupon_id)
        with gate_errors(f"forget coupon {coupon_id}"):
            await self._client.delete(keys.stock, keys.users, keys.state)


def _user(user_id: int) -> str:
    assert type(user_id) is int, "user ids reach Redis only as validated ints"
    return str(user_id)
