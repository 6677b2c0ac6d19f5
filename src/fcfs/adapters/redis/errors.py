"""Translating redis-py's exceptions into the ports' errors, in one place.

`RedisClusterException` (no slot owner, no reachable node) is not a `RedisError` in redis-py,
so it is named here explicitly.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING

from redis.exceptions import RedisClusterException, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from fcfs.domain.errors import GateError

if TYPE_CHECKING:
    from collections.abc import Iterator


@contextmanager
def gate_errors(action: str) -> Iterator[None]:
    """Any Redis failure inside the block becomes `GateError`.

    A failure while connecting means the command never ran. A timeout (or a connection
    lost while awaiting the reply) means it may have run: the reply, not necessarily the
    write, was lost. The message says "outcome unknown" for timeouts so logs tell them
    apart; a caller that sent a write must not assume it left Redis untouched
    (reconciliation settles users the gate holds without a row).
    """
    try:
        yield
    except RedisTimeoutError as exc:
        raise GateError(f"{action}: Redis did not answer in time (outcome unknown)") from exc
    except (RedisError, RedisClusterException, OSError) as exc:
        raise GateError(f"{action}: Redis failed ({type(exc).__name__}: {exc})") from exc
