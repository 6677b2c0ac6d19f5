"""Key names (docs/design.md §4). Built only from validated ints and a checked prefix, never from raw input.

`<prefix>:{c:<couponId>}:stock|users|state|unconfirmed|lock` share the hash tag `{c:<couponId>}`,
so one coupon's keys live in one Redis Cluster slot and a script may touch them together.
"""

from __future__ import annotations

from dataclasses import dataclass

_MAX_PREFIX = 64
_MAX_LOCK_NAME = 200


def check_prefix(prefix: str) -> str:
    """A brace in the prefix would move the hash tag; whitespace would make keys unreadable."""
    assert isinstance(prefix, str), "prefix must be a string"
    if not prefix or len(prefix) > _MAX_PREFIX or any(ch in prefix for ch in "{} \t\r\n"):
        raise ValueError(f"invalid Redis key prefix {prefix!r}")
    return prefix


def _check_id(coupon_id: int) -> int:
    assert type(coupon_id) is int, "coupon ids reach key names only as validated ints"
    return coupon_id


@dataclass(frozen=True, slots=True)
class CouponKeys:
    """The keys of one coupon, all in the slot of `{c:<couponId>}`."""

    stock: str
    users: str
    unconfirmed: str
    lock: str
    state: str  # hash {state, version}: the mirror of the coupon's open/paused/closed state

    def staging(self, token: str) -> str:
        """A scratch set filled by `load_stock` before the atomic swap; same slot as `users`."""
        return f"{self.users}:loading:{token}"


class KeySpace:
    """Names every key under one prefix."""

    def __init__(self, prefix: str) -> None:
        self.prefix = check_prefix(prefix)

    def tag(self, coupon_id: int) -> str:
        return f"{self.prefix}:{{c:{_check_id(coupon_id)}}}"

    def coupon(self, coupon_id: int) -> CouponKeys:
        tag = self.tag(coupon_id)
        return CouponKeys(f"{tag}:stock", f"{tag}:users", f"{tag}:unconfirmed", f"{tag}:lock", f"{tag}:state")

    def lock(self, name: str) -> str:
        """The lock key for a strategy's lock name: `<prefix>:{<name>}:lock`.

        Names come from strategies (e.g. `c:42`, which gives the coupon's own lock key),
        never from requests; braces or whitespace in them would break the hash tag.
        """
        assert isinstance(name, str), "lock names are strings"
        if not name or len(name) > _MAX_LOCK_NAME or any(ch in name for ch in "{} \t\r\n"):
            raise ValueError(f"invalid lock name {name!r}")
        return f"{self.prefix}:{{{name}}}:lock"
