"""Another service uses fcfs only through `from fcfs import ...`, on real MariaDB + Redis."""

from __future__ import annotations

import asyncio

from fcfs import IssueCommand, IssueStatus, NewCoupon, Settings, UserIssueState, open_services


async def test_a_service_issues_through_the_library_without_http(settings: Settings) -> None:
    async with open_services(settings) as fcfs:
        coupon = await fcfs.create_coupon.execute(NewCoupon("library", 50))
        await fcfs.load_stock.execute(coupon.id)
        outcomes = await asyncio.gather(
            *(fcfs.issue_coupon.execute(IssueCommand(coupon.id, user)) for user in range(1, 301))
        )
        issued = {o.user_id for o in outcomes if o.status is IssueStatus.ISSUED}
        assert len(issued) == 50
        assert {o.status for o in outcomes} == {IssueStatus.ISSUED, IssueStatus.SOLD_OUT}
        again = await fcfs.issue_coupon.execute(IssueCommand(coupon.id, next(iter(issued))))
        # a winner asking again is refused: "already issued", or "sold out" while the sold-out flag is up
        assert again.status in {IssueStatus.ALREADY_ISSUED, IssueStatus.SOLD_OUT}
        audit = await fcfs.audit_coupon.execute(coupon.id)
        assert audit.row_users == issued
        assert audit.gate_remaining == 0
        assert await fcfs.read_user_issue.execute(coupon.id, next(iter(issued))) is UserIssueState.ISSUED
