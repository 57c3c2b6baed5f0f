"""Destination checks for outbound requests to URLs receiver did not build (subscriber
webhooks, Stedi's download redirects): URL shape, public-address-only resolution, and the
request pinned to the checked address."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]

_DEFAULT_PORTS = {"https": 443, "http": 80}


class DestinationError(ValueError):
    """A delivery destination is malformed or points somewhere we refuse to connect to."""


class UnresolvedError(DestinationError):
    """The destination host did not resolve (a DNS failure, which may pass)."""


def check_destination_url(url: str, *, allow_insecure: bool) -> tuple[str, str, int]:
    """Validate a destination URL and return (scheme, IDNA-encoded host, port).

    https is required unless `allow_insecure`, which also permits http. Userinfo is refused.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise DestinationError(f"destination URL is malformed: {exc}") from None
    scheme = parts.scheme.lower()
    allowed = ("https", "http") if allow_insecure else ("https",)
    if scheme not in allowed:
        hint = (
            "" if allow_insecure else " (http only with RECEIVER_ALLOW_INSECURE_DESTINATIONS=true)"
        )
        raise DestinationError(f"destination URL scheme must be {' or '.join(allowed)}{hint}")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise DestinationError("destination URL must not contain userinfo")
    host = parts.hostname
    if not host:
        raise DestinationError("destination URL has no host")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise DestinationError("destination host is not a valid domain name") from None
    return scheme, host, port if port is not None else _DEFAULT_PORTS[scheme]


def is_public_address(ip: IPAddress) -> bool:
    """Whether `ip` is a globally routable unicast address, including any IPv4 it embeds."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded: list[ipaddress.IPv4Address] = []
        if ip.ipv4_mapped is not None:
            embedded.append(ip.ipv4_mapped)
        if ip.sixtofour is not None:
            embedded.append(ip.sixtofour)
        if ip.teredo is not None:
            embedded.extend(ip.teredo)
        if any(not is_public_address(inner) for inner in embedded):
            return False
        if ip.ipv4_mapped is not None:
            return True
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


async def system_resolver(host: str, port: int) -> list[str]:
    """Resolve `host` with the system resolver, returning addresses in preference order."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[str] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        address = str(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


async def resolve_public(host: str, port: int, *, allow_insecure: bool, resolver: Resolver) -> str:
    """Resolve `host` and return the address to connect to, refusing non-public ones.

    Every resolved address must be public (unless `allow_insecure`); the caller then connects
    to exactly the returned address, sending the original Host header and SNI, so a later
    DNS answer cannot redirect the connection. A literal IP is checked without resolving.
    """
    literal = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        addresses: list[IPAddress] = [ipaddress.ip_address(literal)]
    except ValueError:
        try:
            raw = await resolver(host, port)
        except OSError as exc:
            raise UnresolvedError(f"cannot resolve destination host {host!r}: {exc}") from None
        try:
            addresses = [ipaddress.ip_address(_strip_scope(item)) for item in raw]
        except ValueError:
            raise DestinationError(
                f"destination host {host!r} resolved to an unusable address"
            ) from None
    if not addresses:
        raise UnresolvedError(f"destination host {host!r} did not resolve to any address")
    if not allow_insecure and not all(is_public_address(ip) for ip in addresses):
        raise DestinationError(f"destination host {host!r} resolves to a non-public address")
    return str(addresses[0])


@dataclass(frozen=True, slots=True)
class PinnedURL:
    """A URL rewritten to connect to the address that passed the check; the host name travels
    in the Host header and in TLS (SNI and certificate verification)."""

    url: str
    host_header: str
    sni_hostname: str | None  # None for plain http

    @property
    def extensions(self) -> dict[str, str]:
        """The httpx request extensions that put the host name into TLS."""
        return {"sni_hostname": self.sni_hostname} if self.sni_hostname else {}


async def pin_public(
    url: str, *, host: str, port: int, allow_insecure: bool, resolver: Resolver
) -> PinnedURL:
    """`url` (already shape-checked; `host` and `port` are its checked host and port) pinned
    to the address `resolve_public` chose: no second DNS lookup can redirect the request."""
    address = await resolve_public(host, port, allow_insecure=allow_insecure, resolver=resolver)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    netloc_address = f"[{address}]" if ":" in address else address
    target = urlunsplit((scheme, f"{netloc_address}:{port}", parts.path or "/", parts.query, ""))
    host_in_header = f"[{host}]" if ":" in host else host
    default_port = _DEFAULT_PORTS.get(scheme)
    host_header = host_in_header if port == default_port else f"{host_in_header}:{port}"
    return PinnedURL(target, host_header, host if scheme == "https" else None)


def _strip_scope(address: str) -> str:
    """Drop an IPv6 zone id (`fe80::1%eth0`) so the address parses on every Python."""
    return address.split("%", 1)[0]
