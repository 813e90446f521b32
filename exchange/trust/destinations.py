"""Where the hub may push: a webhook URL is checked when an operator sets it, and every
connection of a push is checked again when it is made (DNS may have changed since).

Refused unless the operator allowed internal destinations for the partner (``--allow-internal``,
for a webhook on the hub's own machine): user-info in the URL (RFC 3986 §3.2.1 — credentials
do not belong in a registered URL), and loopback, link-local and unspecified addresses
(127.0.0.0/8, ::1, 169.254.0.0/16, fe80::/10, 0.0.0.0, ::, and their IPv4-mapped forms), where
a push would reach the hub's own services or a cloud metadata endpoint. Private ranges stay
allowed: government networks run on them.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NewConnectionError

from exchange.errors import BadRequest

MAX_URL_LENGTH = 2000


class InternalDestination(OSError):
    """A push would connect to a loopback, link-local or unspecified address."""


def is_internal(address: str) -> bool:
    """Whether an IP address is loopback, link-local or unspecified (IPv4-mapped too)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone id is not the address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback or ip.is_link_local or ip.is_unspecified


def check_webhook_url(url: str, *, allow_internal: bool = False) -> str:
    """The URL if the hub may push to it; else a refusal that says why."""
    if len(url) > MAX_URL_LENGTH:
        raise BadRequest(f"A webhook URL may not exceed {MAX_URL_LENGTH} characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise BadRequest(f"Not a webhook URL (http or https): {url!r}.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.fragment:
        raise BadRequest(f"Not a webhook URL (http or https): {url!r}.")
    if "@" in parts.netloc:
        raise BadRequest("A webhook URL may not carry a user name or password (user-info).")
    if not allow_internal:
        internal = sorted(a for a in _addresses(parts.hostname, port) if is_internal(a))
        if internal:
            raise BadRequest(
                f"{parts.hostname} is a loopback or link-local address ({internal[0]}): "
                "refused unless internal destinations are allowed (--allow-internal).",
            )
    return url


def _addresses(host: str, port: int | None) -> set[str]:
    """The addresses a host name resolves to now (none when it does not resolve: the
    send-time check still applies).
    """
    try:
        infos = socket.getaddrinfo(host, port or 443, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return set()
    return {str(info[4][0]) for info in infos}


def guarded_session() -> requests.Session:
    """A session whose every connection is refused when it would reach an internal address:
    checked on the resolved addresses before connecting and on the peer after (rebinding).
    """
    session = requests.Session()
    adapter = _GuardedAdapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class _GuardedConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        if any(is_internal(a) for a in _addresses(self._dns_host, self.port)):
            raise NewConnectionError(self, "Refused: an internal destination.") from (
                InternalDestination(self._dns_host)
            )
        sock = super()._new_conn()
        peer = str(sock.getpeername()[0])
        if is_internal(peer):
            sock.close()
            raise NewConnectionError(self, "Refused: an internal destination.") from (
                InternalDestination(peer)
            )
        return sock


class _GuardedHTTPSConnection(_GuardedConnection, HTTPSConnection):
    pass


class _GuardedPool(HTTPConnectionPool):
    ConnectionCls = _GuardedConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _GuardedPool, "https": _GuardedHTTPSPool}
