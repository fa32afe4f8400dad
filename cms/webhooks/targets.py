"""Which URLs a webhook may be sent to.

A webhook makes the server send requests where an admin (or a key with
``webhooks:manage``) says: without a check that is a way to reach the machines behind
it (the cloud's metadata service, a database's HTTP port, the back office on loopback).
A target is refused unless every address its host resolves to is a public one, at
creation and again at each delivery, and the delivery connects to the address that was
checked (a name that resolves differently the second time gains nothing).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from cms.errors import InvalidInput

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Not covered by is_global on every Python: the cloud metadata addresses.
_METADATA = (
    ipaddress.ip_network("169.254.169.254/32"),
    ipaddress.ip_network("fd00:ec2::254/128"),
    ipaddress.ip_network("100.100.100.200/32"),
)


class RefusedTarget(InvalidInput):
    """A URL the server will not send webhooks to; the message says why."""

    def __init__(self, message: str) -> None:
        super().__init__("url", message)


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (``address``), and what to ask for there."""

    url: str
    scheme: str
    host: str
    port: int
    address: IPAddress

    @property
    def connect_url(self) -> str:
        """The URL with its host replaced by the checked address (the original host
        goes in the ``Host`` header and, for HTTPS, in the TLS server name)."""
        parts = urlsplit(self.url)
        shown = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        path = parts.path or "/"
        query = f"?{parts.query}" if parts.query else ""
        return f"{self.scheme}://{shown}:{self.port}{path}{query}"

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


def parse(url: str) -> tuple[str, str, int]:
    """``(scheme, host, port)`` of an http(s) URL, or :class:`RefusedTarget`."""
    if len(url) > 2000:
        raise RefusedTarget("The URL is longer than 2000 characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise RefusedTarget("Not a URL; give one like https://example.com/hooks") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RefusedTarget("Give an http:// or https:// URL, like https://example.com/hooks")
    if parts.username is not None or parts.password is not None:
        raise RefusedTarget("A webhook URL must not carry a user name or password")
    if parts.fragment:
        raise RefusedTarget("A webhook URL must not have a #fragment")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def is_public(address: IPAddress) -> bool:
    """Whether ``address`` is on the public internet (not loopback, private, link-local,
    shared, reserved, multicast or a metadata service)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in network for network in _METADATA):
        return False
    return address.is_global and not address.is_multicast


def resolve(url: str, *, allow_private: bool) -> Target:
    """Check ``url`` and resolve its host: every address must be public (unless
    ``allow_private``, for development and tests). The first address is the one to
    connect to."""
    scheme, host, port = parse(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise RefusedTarget(f"The host {host!r} does not resolve") from None
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    if not addresses:
        raise RefusedTarget(f"The host {host!r} does not resolve")
    if not allow_private:
        for address in addresses:
            if not is_public(address):
                raise RefusedTarget(
                    f"{host} resolves to {address}, a private, loopback or link-local "
                    "address; webhooks go to public addresses only"
                )
    return Target(url=url, scheme=scheme, host=host, port=port, address=addresses[0])
