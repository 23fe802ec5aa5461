"""Which networks may reach a cluster's public API endpoint: a few named ones, never the internet.

The rule: every entry is a network in CIDR notation (no host bits set), and all entries
together admit at most PUBLIC_ADDRESS_BUDGET public IPv4 addresses
(a /16) and PUBLIC_IPV6_BUDGET public IPv6 addresses (a /48). Counting the union rather than
each entry catches the disguises: 0.0.0.0/1 + 128.0.0.0/1, a /8 of cloud address space, or
hundreds of /17s all open the endpoint to the internet as surely as 0.0.0.0/0 does.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Union

Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]

#: Public IPv4 addresses the entries may admit together: one /16.
PUBLIC_ADDRESS_BUDGET = 2**16
#: Public IPv6 addresses the entries may admit together: one /48 (a site's allocation).
PUBLIC_IPV6_BUDGET = 2**80

#: IPv4 space that is not reachable from the internet (IANA special-purpose registry): disjoint.
NON_PUBLIC_IPV4 = tuple(
    ipaddress.IPv4Network(block)
    for block in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
    )
)
#: Global unicast IPv6 space, and the documentation range inside it.
PUBLIC_IPV6 = ipaddress.IPv6Network("2000::/3")
NON_PUBLIC_IPV6 = (ipaddress.IPv6Network("2001:db8::/32"),)


def public_addresses(network: Network) -> int:
    """How many addresses of `network` the internet can reach."""
    if isinstance(network, ipaddress.IPv4Network):
        return network.num_addresses - sum(_overlap(network, block) for block in NON_PUBLIC_IPV4)
    public = _overlap(network, PUBLIC_IPV6)
    return public - sum(_overlap(network, block) for block in NON_PUBLIC_IPV6)


def check_public_access_cidrs(cidrs: Sequence[str]) -> list[Network]:
    """The entries as networks; ValueError if one is malformed, or if together they admit more
    public addresses than the budgets (see the module's rule)."""
    networks: list[Network] = []
    for cidr in cidrs:
        try:
            network = ipaddress.ip_network(cidr, strict=True)
        except ValueError:
            raise ValueError(
                f"endpoint_public_cidrs entry {cidr!r} is not a network in CIDR notation without host bits "
                "(for example 203.0.113.0/24)"
            ) from None
        if "/" not in cidr:
            raise ValueError(f"endpoint_public_cidrs entry {cidr!r} needs a prefix length, for example {cidr}/32")
        networks.append(network)
    for version, budget, size in ((4, PUBLIC_ADDRESS_BUDGET, "/16"), (6, PUBLIC_IPV6_BUDGET, "/48")):
        union = ipaddress.collapse_addresses(n for n in networks if n.version == version)  # type: ignore[misc]
        admitted = sum(public_addresses(network) for network in union)
        if admitted > budget:
            raise ValueError(
                f"endpoint_public_cidrs admit {admitted:,} public IPv{version} addresses together, more than a "
                f"{size}: that opens the API endpoint to the internet; name your own networks"
            )
    return networks


def _overlap(network: Network, block: Network) -> int:
    # CIDR blocks either nest or are disjoint.
    if network.version != block.version or not network.overlaps(block):  # type: ignore[arg-type]
        return 0
    return min(network.num_addresses, block.num_addresses)


__all__ = [
    "NON_PUBLIC_IPV4",
    "PUBLIC_ADDRESS_BUDGET",
    "PUBLIC_IPV6_BUDGET",
    "check_public_access_cidrs",
    "public_addresses",
]
