"""The base a strategy plugin declares itself on, once.

    class NoLockStrategy(CheckedInsertStrategy, name="no-lock", cross_process_safe=False, needs={Capability.SQL}):
        \"\"\"Count, check and insert with no coordination: the race, on purpose.

        Why it exists, and which invariant it keeps or breaks.
        \"\"\"

The registry, the CLI and the scale-out refusal read `name`, `description`,
`cross_process_safe` and `needs` as class attributes (the `StrategyFactory` port). Here
they are class keywords, and the description is the docstring's summary line, so each
is written once per strategy and a concrete strategy that forgets one is refused when
its module is imported. `admission` is the family whose truth the strategy decides from
(`fcfs.domain.admission`); an intermediate base may declare it for its subclasses
(`CheckedInsertStrategy` decides from the rows: `DATABASE`), and a strategy whose family
is none or `ALONE` shares a coupon with nobody but itself. Third-party plugins may use
this base or satisfy `StrategyFactory` by hand (an `admission` class attribute then stays
optional).
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any, ClassVar

from fcfs.ports.strategy import Capability, IssueStrategy

if TYPE_CHECKING:
    from collections.abc import Iterable


class Strategy(IssueStrategy):
    """A strategy built from the kit; a subclass without `name` is an intermediate base."""

    name: ClassVar[str]
    description: ClassVar[str]
    cross_process_safe: ClassVar[bool]
    needs: ClassVar[frozenset[Capability]]
    admission: ClassVar[str | None] = None

    def __init_subclass__(
        cls,
        *,
        name: str | None = None,
        cross_process_safe: bool | None = None,
        needs: Iterable[Capability] | None = None,
        admission: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init_subclass__(**kwargs)
        if admission is not None:
            cls.admission = admission
        if name is None:
            return
        summary = inspect.cleandoc(cls.__dict__.get("__doc__") or "").partition("\n")[0].rstrip(".")
        if not summary or cross_process_safe is None or needs is None:
            raise TypeError(f"strategy {name!r} must declare a docstring summary, cross_process_safe and needs")
        cls.name = name
        cls.description = summary
        cls.cross_process_safe = cross_process_safe
        cls.needs = frozenset(needs)
