"""fcfs: first-come-first-served issuance of limited coupons, as a library and a service.

Another service uses it without HTTP (the README's example, a complete script)::

    import asyncio

    from fcfs import IssueCommand, NewCoupon, Settings, migrate, open_services


    async def main() -> None:
        settings = Settings.from_env()
        await migrate(settings)
        async with open_services(settings) as fcfs:
            coupon = await fcfs.create_coupon.execute(NewCoupon("launch", 100))
            await fcfs.load_stock.execute(coupon.id)
            outcome = await fcfs.issue_coupon.execute(IssueCommand(coupon.id, 42))
            print(outcome.status)


    asyncio.run(main())

`open_services` refuses, with a `ConfigurationError` naming what to set, a configuration
that cannot issue (an unknown `FCFS_STRATEGY`, or one whose backends are not configured).
Names resolve lazily, so importing a submodule (the model, say) pulls in no driver.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fcfs.bootstrap.container import Services, migrate, open_services
    from fcfs.bootstrap.preflight import ConfigurationError
    from fcfs.bootstrap.settings import Settings
    from fcfs.domain.coupon import Coupon, NewCoupon, ValidityWindow
    from fcfs.domain.errors import Code, FcfsError
    from fcfs.domain.issuance import IssueCommand, IssueOutcome, IssueStatus, UserIssueState

_EXPORTS = {
    "Services": "fcfs.bootstrap.container",
    "open_services": "fcfs.bootstrap.container",
    "migrate": "fcfs.bootstrap.container",
    "ConfigurationError": "fcfs.bootstrap.preflight",
    "Settings": "fcfs.bootstrap.settings",
    "Coupon": "fcfs.domain.coupon",
    "NewCoupon": "fcfs.domain.coupon",
    "ValidityWindow": "fcfs.domain.coupon",
    "Code": "fcfs.domain.errors",
    "FcfsError": "fcfs.domain.errors",
    "IssueCommand": "fcfs.domain.issuance",
    "IssueOutcome": "fcfs.domain.issuance",
    "IssueStatus": "fcfs.domain.issuance",
    "UserIssueState": "fcfs.domain.issuance",
}

__all__ = [
    "Code",
    "ConfigurationError",
    "Coupon",
    "FcfsError",
    "IssueCommand",
    "IssueOutcome",
    "IssueStatus",
    "NewCoupon",
    "Services",
    "Settings",
    "UserIssueState",
    "ValidityWindow",
    "migrate",
    "open_services",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'fcfs' has no attribute {name!r}")
    return getattr(import_module(module), name)
