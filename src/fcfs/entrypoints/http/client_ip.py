"""Which address a request came from, for per-address rate limits.

`X-Forwarded-For` is believed only when the direct peer is a configured trusted proxy;
then the list is read from the right, skipping trusted proxies, and the first address
that is not one is the client (anything left of it could be forged by that client). A
request from anyone else is its peer's address, whatever headers it sends.
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class TrustedProxies:
    networks: tuple[IpNetwork, ...] = ()

    @classmethod
    def parse(cls, spec: str) -> TrustedProxies:
        """`10.0.0.0/8, 127.0.0.1, ::1`: a malformed entry fails at start-up, naming it."""
        networks: list[IpNetwork] = []
        for part in (piece.strip() for piece in spec.split(",")):
            if not part:
                continue
            try:
                networks.append(ipaddress.ip_network(part, strict=False))
            except ValueError:
                raise ValueError(f"FCFS_TRUSTED_PROXIES: {part!r} is not an IP address or network") from None
        return cls(tuple(networks))

    def trusts(self, address: IpAddress) -> bool:
        return any(address in network for network in self.networks)

    def client(self, peer: str | None, forwarded_for: Sequence[str]) -> str:
        """The canonical client address (`unknown` when the peer is not an IP, e.g. a Unix socket)."""
        direct = _address(peer)
        if direct is None:
            return UNKNOWN
        if not self.networks or not self.trusts(direct):
            return str(direct)
        hops = [hop.strip() for value in forwarded_for for hop in value.split(",")]
        client = direct
        for hop in reversed(hops):
            address = _address(hop)
            if address is None:
                break  # a forged or broken entry: trust nothing beyond it
            client = address
            if not self.trusts(address):
                break
        return str(client)


@functools.lru_cache(maxsize=8)
def trusted_proxies(spec: str) -> TrustedProxies:
    return TrustedProxies.parse(spec)


def _address(text: str | None) -> IpAddress | None:
    if not text:
        return None
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped if mapped is not None else address
