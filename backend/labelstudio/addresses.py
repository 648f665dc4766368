"""Which IP addresses an image may be fetched from: public ones only, also when an IPv6 address carries an IPv4 one.

``ipaddress`` calls NAT64 (``64:ff9b::/96``), 6to4 (``2002::/16``) and Teredo (``2001::/32``) addresses global,
yet each reaches the IPv4 address inside it through a translator or relay: ``64:ff9b::7f00:1`` is 127.0.0.1 on a
network with NAT64. Such an address is public only when every IPv4 address it embeds is.
"""
from __future__ import annotations

import ipaddress

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address stands for (mapped, compatible, NAT64, 6to4, Teredo server and client)."""
    found = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    packed = int(address)
    if any(address in network for network in NAT64) or (packed >> 32 == 0 and packed > 1):  # NAT64, ::a.b.c.d
        found.append(ipaddress.IPv4Address(packed & 0xFFFFFFFF))
    return found


def is_public(address: Address | str) -> bool:
    """Whether ``address`` (an ``ipaddress`` object or its text, with or without a ``%zone``) is a global one and
    embeds no private IPv4 address."""
    if isinstance(address, str):
        address = ipaddress.ip_address(address.split("%")[0])
    if not address.is_global:
        return False
    if isinstance(address, ipaddress.IPv6Address):
        return all(inner.is_global for inner in embedded_ipv4(address))
    return True
