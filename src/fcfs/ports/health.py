from __future__ import annotations

from typing import Protocol


class DependencyCheck(Protocol):
    name: str

    async def check(self) -> None:
        """Return when the dependency answers; raise when it does not."""
        ...
