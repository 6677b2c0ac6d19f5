"""lua: the Redis Lua gate admits, then the row is persisted before the answer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fcfs.domain.admission import GATE
from fcfs.domain.errors import CouponNotFound, StorageError, TemporaryFailure
from fcfs.domain.issuance import IssueOutcome, IssueStatus
from fcfs.ports.strategy import Capability
from fcfs.strategies._gated import GateFront, answer
from fcfs.strategies._kit import required
from fcfs.strategies.plugin import Strategy

if TYPE_CHECKING:
    from fcfs.domain.issuance import IssueCommand
    from fcfs.ports.strategy import StrategyKit


class LuaStrategy(
    Strategy, name="lua", cross_process_safe=True, needs={Capability.SQL, Capability.REDIS}, admission=GATE
):
    """Redis Lua gate, then a synchronous capped insert.

    One Redis round trip decides; the insert is the capped, idempotent batch of one event.

    The database cap still guards invariant 1 if the gate lost its state: a refused event
    gives its admission back. A row that already existed answers `ALREADY_ISSUED` and keeps
    the user in the gate, where the row says the user belongs.
    """

    def __init__(self, kit: StrategyKit) -> None:
        self._front = GateFront(required(kit.gate, "an issuance gate", self.name), kit.clock)
        self._issued = kit.issued

    async def issue(self, command: IssueCommand) -> IssueOutcome:
        admitted = await self._front.admit(command)
        if isinstance(admitted, IssueOutcome):
            return admitted
        try:
            result = await self._issued.persist_capped([admitted])
        except StorageError as error:
            await self._front.give_back(admitted)
            raise TemporaryFailure("the issuance could not be stored; nothing was issued") from error
        if admitted.event_id in result.inserted:
            return answer(admitted, IssueStatus.ISSUED)
        if admitted.event_id in result.duplicates:
            return answer(admitted, IssueStatus.ALREADY_ISSUED)
        await self._front.give_back(admitted)
        if admitted.event_id in result.over_cap:
            return answer(admitted, IssueStatus.SOLD_OUT)
        raise CouponNotFound(f"coupon {command.coupon_id} does not exist")
