"""The SSRF guard: webhooks never reach private, loopback, link-local or otherwise non-public addresses.

A URL is checked when it is subscribed (every address its host resolves to must be public) and again
at delivery, on the address the socket actually connected to: a host that resolved to a public
address at subscription and to 127.0.0.1 now (DNS rebinding) is refused before a byte is sent.
`WEBHOOKS_ALLOW_PRIVATE_NETWORKS` (environment) turns both checks off, for tests and the demo.
"""

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class BlockedAddress(requests.exceptions.ConnectionError):
    """The endpoint's host is (now) a non-public address."""


def private_networks_allowed() -> bool:
    return bool(getattr(settings, "WEBHOOKS_ALLOW_PRIVATE_NETWORKS", False))


def address_is_public(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is loopback too
    return address.is_global and not address.is_multicast


def url_refusal(url: str) -> str | None:
    """Why this URL may not receive webhooks, or None if it may. Resolves its host."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "Not a valid URL."
    if parts.scheme not in ("http", "https"):
        return "Use an http or https URL."
    host = parts.hostname
    if not host:
        return "The URL has no host."
    if parts.username or parts.password:
        return "Credentials in the URL are not allowed; verify the signature instead."
    if private_networks_allowed():
        return None
    try:
        infos = socket.getaddrinfo(host, port or (443 if parts.scheme == "https" else 80), type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return f"The host {host!r} does not resolve."
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not address_is_public(address):
            return (f"The host {host!r} resolves to {address}, a private or loopback address; "
                    "webhooks go to public addresses only.")
    return None


def _check_peer(sock: socket.socket) -> None:
    if private_networks_allowed():
        return
    peer = ipaddress.ip_address(str(sock.getpeername()[0]).split("%")[0])
    if not address_is_public(peer):
        sock.close()
        raise BlockedAddress(f"Refused to deliver to {peer}, a private or loopback address.")


class _GuardedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _check_peer(sock)
        return sock


class _GuardedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _check_peer(sock)
        return sock


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _GuardedHTTPPool, "https": _GuardedHTTPSPool}


def guarded_session() -> requests.Session:
    """A session whose every connection is checked against the guard; no proxies from the environment
    (a proxy would connect on our behalf, past the check), no redirects followed by the caller."""
    session = requests.Session()
    session.trust_env = False
    adapter = _GuardedAdapter(max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
