"""Lua scripts called with EVALSHA: one round trip per call, a reload only after NOSCRIPT.

The SHA1 is computed here from the source, which is exactly what SCRIPT LOAD answers, so
the first call needs no preparatory round trip: it runs EVALSHA and, only if the server
(or, in a cluster, the node owning the keys' slot) answers NOSCRIPT, loads the script and
retries once. A flushed script cache or a failed-over node therefore costs one extra round
trip, never an error. This is cheaper than redis-py's `register_script`, which also loads on
NOSCRIPT but carries a client-bound object we would have to keep per client.
"""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from redis.exceptions import NoScriptError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from fcfs.adapters.redis.client import RedisClient

ScriptArg = str | int | bytes


class LuaScript:
    def __init__(self, name: str, source: str) -> None:
        self.name = name
        self.source = source
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()

    async def load(self, client: RedisClient) -> None:
        """SCRIPT LOAD on the server, or on every primary of a cluster (redis-py's default target)."""
        await client.script_load(self.source)

    async def run(self, client: RedisClient, keys: Sequence[str], args: Sequence[ScriptArg]) -> Any:
        """EVALSHA with `keys` (a cluster routes by their slot); on NOSCRIPT load and retry once."""
        try:
            return await client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            await self.load(client)
            return await client.evalsha(self.sha, len(keys), *keys, *args)


@cache
def script(name: str) -> LuaScript:
    """The script `scripts/<name>.lua` shipped beside this module, read once per process."""
    source = resources.files("fcfs.adapters.redis").joinpath("scripts", f"{name}.lua").read_text(encoding="utf-8")
    return LuaScript(name, source)
