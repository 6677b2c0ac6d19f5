"""Results pushed the moment they are durable (docs/design.md §10): the consumer announces, the API listens.

`IssueNotifier` is the consumer's side: one announcement per coupon per committed batch.
`IssueResults` is the API worker's side: a listener for one user, registered before the
state is read, so an announcement made after that read cannot be missed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractAsyncContextManager

    from fcfs.domain.results import CouponResults, UserResult


class IssueNotifier(Protocol):
    async def publish(self, results: CouponResults) -> None:
        """Announce one coupon's share of a committed batch to every instance.

        Raises `NotificationFailed` (fcfs.domain.results) when it could not; the caller logs it and persistence
        goes on (a listener still learns the state from its own read).
        """
        ...


class ResultWaiter(Protocol):
    """One listener's result: awaited (`wait`), or looked at when something else woke the listener.

    `announced` and `on_announced` exist for a listener that waits on more than its result (a
    result stream also wakes for keep-alives, its lifetime and its client leaving) with one
    future of its own, instead of a task or a timer per wait.
    """

    async def wait(self, timeout: float) -> UserResult | None:
        """The user's result once announced; None when `timeout` seconds pass first."""
        ...

    def announced(self) -> UserResult | None:
        """The result if it has been announced, without waiting."""
        ...

    def on_announced(self, callback: Callable[[], object]) -> None:
        """`callback()` soon after the result is announced (soon after this call if it already was)."""
        ...


class IssueResults(Protocol):
    def subscribe(self, coupon_id: int, user_id: int) -> AbstractAsyncContextManager[ResultWaiter]:
        """Listen for `user_id`'s result; once entered, every later announcement reaches the waiter.

        Leaving the context releases the listener (and the instance's subscription to the
        coupon once its last listener left). Raises `NotificationFailed` (fcfs.domain.results) when the
        subscription could not be made.
        """
        ...
