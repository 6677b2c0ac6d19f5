"""The installed strategies by family, as the unit tests parametrize over them (docs/design.md §7)."""

from __future__ import annotations

UNSAFE = ("no-lock", "synchronized")  # break invariant 1: the control group, and a commit outside the lock
SQL_SAFE = (  # coordinate in the database or around it, each holding every invariant in one process
    "synchronized-commit",
    "reentrant-lock",
    "semaphore",
    "atomic",
    "atomic-query",
    "pessimistic-lock",
    "distributed-lock",
    "spin-lock",
)
GATED = ("lua", "lua-async")  # the Redis gate admits, the database only records
