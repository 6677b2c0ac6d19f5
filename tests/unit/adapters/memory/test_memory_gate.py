"""The in-memory gate keeps the invariants the Lua gate keeps, for any sequence of calls.

The shared contract (the same cases against Redis) lives in tests/integration/test_redis_gate.py;
this adds the property no example list covers: conservation under arbitrary interleavings.
"""

from __future__ import annotations

import asyncio

from hypothesis import given
from hypothesis import strategies as st

from fcfs.adapters.memory.gate import MemoryIssuanceGate
from fcfs.domain.issuance import GateVerdict

COUPON = 1
users = st.integers(min_value=1, max_value=12)
operations = st.lists(st.tuples(st.sampled_from(["issue", "compensate"]), users), max_size=60)


@given(stock=st.integers(min_value=0, max_value=8), preloaded=st.sets(users, max_size=4), ops=operations)
def test_stock_plus_admitted_users_is_conserved_and_no_user_holds_two(
    stock: int, preloaded: set[int], ops: list[tuple[str, int]]
) -> None:
    async def run() -> None:
        gate = MemoryIssuanceGate()
        await gate.load_stock(COUPON, stock, preloaded)
        loaded = stock + len(preloaded)
        holders = set(preloaded)
        for op, user in ops:
            if op == "issue":
                verdict = await gate.try_issue(COUPON, user)
                if verdict is GateVerdict.ISSUED:
                    assert user not in holders
                    holders.add(user)
                elif verdict is GateVerdict.ALREADY_ISSUED:
                    assert user in holders
                else:
                    assert verdict is GateVerdict.SOLD_OUT
                    assert await gate.remaining(COUPON) == 0
            else:
                assert await gate.compensate(COUPON, user) is (user in holders)
                holders.discard(user)
            remaining = await gate.remaining(COUPON)
            assert remaining is not None
            assert remaining >= 0
            assert remaining + len(await gate.users(COUPON)) == loaded
            assert await gate.users(COUPON) == holders

    asyncio.run(run())


def test_a_gate_that_lost_its_state_answers_not_loaded() -> None:
    async def run() -> None:
        gate = MemoryIssuanceGate()
        await gate.load_stock(COUPON, 3, [1])
        gate.lose_state()
        assert await gate.try_issue(COUPON, 2) is GateVerdict.NOT_LOADED
        assert await gate.users(COUPON) == set()

    asyncio.run(run())
