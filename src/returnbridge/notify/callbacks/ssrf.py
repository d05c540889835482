"""Where callbacks may go: http(s) to public addresses only, unless a setting allows private.

The host is resolved and every address it resolves to is checked: loopback, private (RFC
1918, unique-local), link-local (incl. cloud metadata 169.254.169.254), multicast, reserved
and unspecified addresses are refused, IPv4-mapped and 6to4 IPv6 included. The sender
connects to an address that passed (pinned), so a name that resolves differently a moment
later (DNS rebinding) cannot redirect the request.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from returnbridge.domain.errors import DomainError

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class CallbackUrlError(DomainError):
    """A callback URL we will not call; the message says why."""

    code = "CALLBACK_URL_REFUSED"


@dataclass(frozen=True, slots=True)
class Target:
    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]
    """The checked addresses the request may be sent to, in the resolver's order."""

    @property
    def address(self) -> str:
        return self.addresses[0]


def is_public(address: IpAddress) -> bool:
    """Whether `address` is a global unicast one. An IPv4 address inside an IPv6 one (mapped,
    or 6to4) is judged as itself; NAT64 and Teredo prefixes are never public here."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is not None and not is_public(embedded):
            return False
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
    return not (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def check_url(url: str, *, allow_private: bool) -> Target:
    """The address to send to; CallbackUrlError when the URL is not one we may call."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:  # a malformed IPv6 literal, a port out of range
        raise CallbackUrlError(
            "CALLBACK_URL_REFUSED", "the callback URL is malformed (host or port)"
        ) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CallbackUrlError(
            "CALLBACK_URL_REFUSED", "a callback URL must be http:// or https:// with a host"
        )
    if parts.username or parts.password:
        raise CallbackUrlError(
            "CALLBACK_URL_REFUSED", "a callback URL may not carry a username or password"
        )
    try:
        found = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError, ValueError):  # unknown name, or not a name at all
        raise CallbackUrlError(
            "CALLBACK_HOST_UNKNOWN", f"the callback host {parts.hostname} does not resolve"
        ) from None
    addresses = [ipaddress.ip_address(info[4][0]) for info in found]
    if not allow_private:
        refused = [a for a in addresses if not is_public(a)]
        if refused:
            raise CallbackUrlError(
                "CALLBACK_URL_REFUSED",
                f"the callback host {parts.hostname} resolves to a private or reserved address"
                f" ({refused[0]}); set RETURNBRIDGE_CALLBACKS_ALLOW_PRIVATE_ADDRESSES=true to"
                " allow it (tests and the demo do)",
            )
    return Target(parts.scheme, parts.hostname, port, tuple(dict.fromkeys(map(str, addresses))))
