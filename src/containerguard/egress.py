"""Where the package's outbound connections may go: the guard against server-side request forgery.

The server fetches URLs that others can set: a registry's Bearer ``realm``, the ``Location`` of a redirect, a
blob URL on object storage, a notification target's webhook. None of them may turn the server against the
cloud's instance metadata service (``169.254.169.254``, where a VM's credentials live) or other link-local
addresses. The policy, applied at connect time to the address actually dialled (so a name that resolves, or
re-resolves, to a refused address is refused too):

* refused by default: link-local (``169.254.0.0/16``, ``fe80::/10``), the metadata addresses clouds use
  outside that range (AWS ``fd00:ec2::254``, Alibaba ``100.100.100.200``), "this network" ``0.0.0.0/8``
  and ``::``, multicast; an IPv4-mapped IPv6 address counts as its IPv4 address;
* ``CONTAINERGUARD_EGRESS_DENY``: more networks to refuse (comma-separated CIDRs, e.g. the VPC's ranges
  when only public registries and receivers are expected);
* ``CONTAINERGUARD_EGRESS_ALLOW``: networks an administrator allows explicitly (comma-separated CIDRs);
  they win over both lists above.

Loopback and private networks are allowed by default: registries and receivers inside the organisation are
what a central server talks to, and only administrators add registries and notification targets. An
environment proxy (``HTTPS_PROXY``), where a client honours one, is the administrator's own egress control
and is not checked.

:func:`http_transport` gives an httpx transport whose connections pass :func:`check`; :func:`connect` is the
same for a plain TCP or UDP socket (syslog).
"""

from __future__ import annotations

import functools
import ipaddress
import os
import socket
from typing import Any

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_DENY = ("169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128", "100.100.100.200/32", "0.0.0.0/8", "::/128",
                "224.0.0.0/4", "ff00::/8")


class EgressRefused(OSError):
    """A connection the egress policy refuses (an OSError: to an HTTP client it is a failed connection)."""


@functools.lru_cache(maxsize=8)
def _networks(text: str) -> tuple[IPNetwork, ...]:
    out = []
    for part in text.split(","):
        part = part.strip()
        if part:
            try:
                out.append(ipaddress.ip_network(part, strict=False))
            except ValueError:
                raise EgressRefused(f"egress policy: {part[:60]!r} is not a network (CIDR)") from None
    return tuple(out)


def refusal(address: str) -> str | None:
    """Why a connection to the IP ``address`` is refused, or None when it is allowed."""
    ip: IPAddress = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in n for n in _networks(os.environ.get("CONTAINERGUARD_EGRESS_ALLOW", ""))):
        return None
    for source, nets in (("link-local/metadata", _networks(",".join(DEFAULT_DENY))),
                         ("CONTAINERGUARD_EGRESS_DENY", _networks(os.environ.get("CONTAINERGUARD_EGRESS_DENY", "")))):
        for n in nets:
            if ip in n:
                return (f"connection to {ip} refused by the egress policy ({source} {n}; "
                        "CONTAINERGUARD_EGRESS_ALLOW allows a network explicitly)")
    return None


def literal_refusal(host: str) -> str | None:
    """:func:`refusal` for ``host`` when it is an IP literal (a URL's host, brackets allowed); None for a name
    (names are checked when they are dialled, against what they resolve to then)."""
    try:
        return refusal(host.strip("[]"))
    except ValueError:
        return None


def resolve(host: str, port: int, kind: socket.SocketKind = socket.SOCK_STREAM) -> list[tuple[Any, ...]]:
    """``getaddrinfo`` for ``host``, refused as a whole when any address it gives is refused (a name that
    mixes an allowed and a refused address is not tried address by address)."""
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, type=kind)
    except socket.gaierror as exc:
        raise OSError(f"cannot resolve {host[:100]!r}: {exc.strerror or exc}") from None
    for info in infos:
        why = refusal(str(info[4][0]))
        if why is not None:
            raise EgressRefused(why if host.strip("[]") == info[4][0] else f"{host[:100]}: {why}")
    return infos


def connect(host: str, port: int, timeout: float | None, kind: socket.SocketKind = socket.SOCK_STREAM) -> socket.socket:
    """A socket connected to an allowed address of ``host`` (TCP, or UDP with ``kind=SOCK_DGRAM``)."""
    last: OSError | None = None
    for family, socktype, proto, _name, addr in resolve(host, port, kind):
        s = socket.socket(family, socktype, proto)
        try:
            s.settimeout(timeout)
            s.connect(addr)
            return s
        except OSError as exc:
            s.close()
            last = exc
    raise last or OSError(f"cannot connect to {host[:100]}:{port}")


def check(host: str, port: int = 0) -> None:
    """Raise :class:`EgressRefused` when ``host`` is, or resolves to, a refused address."""
    resolve(host, port)


def http_transport(deadline: float | None = None, **kw: Any) -> Any:
    """An ``httpx.HTTPTransport`` (``kw`` as its own) whose every connection dials only allowed addresses.
    ``deadline``: seconds from the first connection after which any read or write fails as a timeout (httpx's
    own timeouts reset with every byte, so a peer that trickles its answer would otherwise never end)."""
    import time

    import httpcore
    import httpx

    end: list[float] = []

    def left(timeout: float | None) -> float | None:
        if not end:
            return timeout
        remaining = end[0] - time.monotonic()
        if remaining <= 0:
            raise httpcore.ReadTimeout(f"no complete answer within {deadline:g} s")
        return remaining if timeout is None else min(timeout, remaining)

    class Bounded(httpcore.NetworkStream):
        def __init__(self, inner: httpcore.NetworkStream) -> None:
            self._inner = inner

        def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
            return self._inner.read(max_bytes, left(timeout))

        def write(self, buffer: bytes, timeout: float | None = None) -> None:
            self._inner.write(buffer, left(timeout))

        def close(self) -> None:
            self._inner.close()

        def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                      timeout: float | None = None) -> httpcore.NetworkStream:
            return Bounded(self._inner.start_tls(ssl_context, server_hostname, left(timeout)))

        def get_extra_info(self, info: str) -> Any:
            return self._inner.get_extra_info(info)

    class Guarded(httpcore.SyncBackend):
        def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                        socket_options: Any = None) -> httpcore.NetworkStream:
            if deadline is not None and not end:
                end.append(time.monotonic() + deadline)
            try:
                infos = resolve(host, port)
            except OSError as exc:
                raise httpcore.ConnectError(str(exc)) from None
            last: Exception | None = None
            for info in infos:  # dial the checked address itself: no second resolution to rebind
                try:
                    stream = super().connect_tcp(str(info[4][0]), port, left(timeout), local_address, socket_options)
                    return Bounded(stream) if deadline is not None else stream
                except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                    last = exc
            raise last or httpcore.ConnectError(f"cannot connect to {host[:100]}:{port}")

    transport = httpx.HTTPTransport(**kw)
    transport._pool._network_backend = Guarded()  # httpx exposes no backend argument; httpcore's pool holds it
    return transport
