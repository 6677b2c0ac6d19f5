"""lua-async: the Redis Lua gate admits, the event goes to the broker, the consumer inserts in batches."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fcfs.domain.admission import GATE
from fcfs.domain.errors import GateError, PublishFailed, PublishOutcomeUnknown
from fcfs.domain.issuance import IssueOutcome, IssueStatus
from fcfs.ports.strategy import Capability
from fcfs.strategies._gated import GateFront, answer
from fcfs.strategies._kit import required
from fcfs.strategies.plugin import Strategy

if TYPE_CHECKING:
    from fcfs.domain.issuance import IssueCommand
    from fcfs.ports.strategy import StrategyKit


class LuaAsyncStrategy(
    Strategy, name="lua-async", cross_process_safe=True, needs={Capability.REDIS, Capability.BROKER}, admission=GATE
):
    """Redis Lua gate, then Kafka; the consumer inserts in batches.

    Answers `ACCEPTED` only once the event is on the broker, or may be (docs/design.md §6.3).

    A send that certainly failed gives the admission back and raises `PublishFailed` (503);
    a send whose outcome is unknown keeps the admission and records the event for
    reconciliation, since giving it back could issue the unit twice.
    """

    def __init__(self, kit: StrategyKit) -> None:
        self._front = GateFront(required(kit.gate, "an issuance gate", self.name), kit.clock)
        self._publisher = required(kit.publisher, "an event publisher", self.name)
        self._unconfirmed = required(kit.unconfirmed, "an unconfirmed-event store", self.name)

    async def issue(self, command: IssueCommand) -> IssueOutcome:
        admitted = await self._front.admit(command)
        if isinstance(admitted, IssueOutcome):
            return admitted
        try:
            await self._publisher.publish(admitted)
        except PublishFailed:
            try:
                await self._front.give_back(admitted)
            except GateError:
                # The admission can be neither published nor given back: keep it, and let
                # reconciliation publish it, so the answer (accepted) and the outcome agree.
                await self._unconfirmed.record(admitted)
                return answer(admitted, IssueStatus.ACCEPTED)
            raise
        except PublishOutcomeUnknown:
            await self._unconfirmed.record(admitted)
        return answer(admitted, IssueStatus.ACCEPTED)
