"""Outbound HTTP (webhook deliveries, connector pulls and exports) reaches public addresses
only, unless the allow-list (`MERX_OUTBOUND_ALLOW`, JSON list of host names, addresses or
networks such as `["127.0.0.1", "10.20.0.0/16", "erp.lan"]`) names the host or its address.

Checked twice: when a URL is saved (a literal address in any spelling — `2130706433`,
`0177.0.0.1`, `0x7f.1`, `[::ffff:127.0.0.1]` — is normalised first; a name is resolved if it
resolves), and again on every connection, on the very addresses the socket connects to, so a
name that resolves elsewhere later (DNS rebinding) is refused too. "Public" is what
`ipaddress` calls global: loopback, private, link-local (169.254.169.254, cloud metadata),
carrier-grade NAT, multicast and reserved ranges are all refused."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from typing import Any, Iterable
from urllib.parse import urlsplit

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_LEGACY_IPV4_CHARS = set("0123456789abcdefxABCDEFX.")


class OutboundRefused(Exception):
    """The target is not a public address and the allow-list does not name it."""


def literal_address(host: str) -> IPAddress | None:
    """The address a host name spells literally, in any form the C resolver accepts (decimal,
    octal, hex, shortened dotted IPv4), or None for a real name."""
    host = host.strip("[]")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if not host or not set(host) <= _LEGACY_IPV4_CHARS or not any(c.isdigit() for c in host):
            return None
        try:
            address = ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@dataclass(frozen=True)
class AllowList:
    hosts: frozenset[str] = frozenset()
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = field(default_factory=tuple)

    @classmethod
    def parse(cls, entries: Iterable[str]) -> "AllowList":
        hosts, networks = set(), []
        for entry in entries:
            entry = entry.strip().lower()
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                hosts.add(entry.rstrip("."))
        return cls(frozenset(hosts), tuple(networks))

    def allows_host(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.hosts

    def allows_address(self, address: IPAddress) -> bool:
        return address.is_global or any(address in net for net in self.networks)


_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded_ipv4(address: IPAddress) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address tunnels to (6to4, Teredo, NAT64): reached through them."""
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    found = [a for a in (address.sixtofour, *(address.teredo or ())) if a is not None]
    if address in _NAT64:
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def check_address(address: IPAddress, host: str, allow: AllowList) -> None:
    for candidate in (address, *_embedded_ipv4(address)):
        if not allow.allows_address(candidate):
            raise OutboundRefused(f"{host} is a private, loopback or link-local address ({candidate}); "
                                  "add it to MERX_OUTBOUND_ALLOW to allow it")


def check_url(url: str, allow: AllowList) -> None:
    """Save-time check. A name that does not resolve now is accepted: it is checked again at
    every connection."""
    host = urlsplit(url).hostname or ""
    if not host:
        raise OutboundRefused("the URL has no host")
    if allow.allows_host(host):
        return
    literal = literal_address(host)
    if literal is not None:
        check_address(literal, host, allow)
        return
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return
    for info in infos:
        check_address(_address_of(info), host, allow)


def _address_of(info: tuple[Any, ...]) -> IPAddress:
    found = ipaddress.ip_address(str(info[4][0]).split("%")[0])
    if isinstance(found, ipaddress.IPv6Address) and found.ipv4_mapped is not None:
        return found.ipv4_mapped
    return found


class _GuardedBackend(httpcore.SyncBackend):
    """httpcore's socket backend, resolving the name itself and connecting only to an address
    that passed the check (the TLS server name stays the URL's host)."""

    def __init__(self, allow: AllowList) -> None:
        self.allow = allow

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Any = None) -> httpcore.NetworkStream:
        if self.allow.allows_host(host):
            return super().connect_tcp(host, port, timeout, local_address, socket_options)
        literal = literal_address(host)
        try:
            addresses = [literal] if literal is not None else [
                _address_of(info) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]
        except OSError as e:
            raise httpcore.ConnectError(f"cannot resolve {host}: {e}") from e
        try:
            for address in addresses:
                check_address(address, host, self.allow)
        except OutboundRefused as refused:
            raise httpcore.ConnectError(str(refused)) from None
        return super().connect_tcp(str(addresses[0]), port, timeout, local_address, socket_options)


def guarded_client(allow: AllowList, **options: Any) -> httpx.Client:
    """An httpx client whose every connection goes through the check. No proxies from the
    environment (a proxy would connect on our behalf, past the check)."""
    transport = httpx.HTTPTransport(trust_env=False)
    # httpx does not take a network backend as an argument; its pool keeps it here.
    transport._pool._network_backend = _GuardedBackend(allow)  # noqa: SLF001
    return httpx.Client(transport=transport, trust_env=False, **options)
