"""A socket-layer guard: the process may connect to loopback addresses (and Unix sockets) only.

``install()`` wraps ``socket.socket.connect``/``connect_ex``/``sendto`` and ``socket.getaddrinfo``. A connection
to any other address raises ``ConnectionRefusedError`` (an ``OSError``, so SDKs fail the way they do offline)
and is recorded: in ``violations`` for this process, and as a line in the file named by
``AGENTS_NETWORK_GUARD_LOG`` when it is set, so a test can be failed even when the code under test swallowed
the error, and a child process (the local host, a script) can report to the test that started it.
A name other than ``localhost`` is not resolved (the machine's resolver is off loopback); that raises
``socket.gaierror`` and is recorded the same way. Address literals resolve as usual (nothing is looked up).
"""

from __future__ import annotations

import ipaddress
import os
import socket
import traceback
from typing import Any

LOG_SETTING = "AGENTS_NETWORK_GUARD_LOG"
violations: list[str] = []
_installed = False
_original_connect = socket.socket.connect
_original_connect_ex = socket.socket.connect_ex
_original_sendto = socket.socket.sendto
_original_getaddrinfo = socket.getaddrinfo
_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


def is_loopback_host(host: Any) -> bool:
    """True for loopback IP literals and ``localhost`` names (and None/empty, which mean the local host)."""
    if host is None or host == "" or host == b"":
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    name = str(host).strip("[]").split("%", 1)[0].lower()
    if name in _LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback or address.is_unspecified


def _record(what: str) -> None:
    stack = "".join(traceback.format_stack(limit=12)[:-2])
    entry = f"pid {os.getpid()}: {what}\n{stack}"
    violations.append(entry)
    path = os.environ.get(LOG_SETTING)
    if path:
        try:
            with open(path, "a", encoding="utf-8") as log:
                log.write(f"{what} (pid {os.getpid()})\n")
        except OSError:
            pass


def _check_address(sock: socket.socket, address: Any) -> None:
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return  # Unix sockets and socket pairs never leave the machine
    host = address[0] if isinstance(address, tuple) and address else address
    if not is_loopback_host(host):
        _record(f"connection to {address!r} refused by the test network guard")
        raise ConnectionRefusedError(f"the test network guard refused a connection to {address!r} (not loopback)")


def _connect(self: socket.socket, address: Any) -> None:
    _check_address(self, address)
    return _original_connect(self, address)


def _connect_ex(self: socket.socket, address: Any) -> int:
    _check_address(self, address)
    return _original_connect_ex(self, address)


def _sendto(self: socket.socket, data: Any, *args: Any) -> int:
    _check_address(self, args[-1])
    return _original_sendto(self, data, *args)  # type: ignore[arg-type]


def _is_ip_literal(host: Any) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    try:
        ipaddress.ip_address(str(host).strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    return True


def _is_invalid_name(host: Any) -> bool:
    """A name under the reserved ``invalid.`` domain, which RFC 6761 §6.4 says resolvers answer at once with
    "no such name", asking nobody: a test may look one up to see that failure, and nothing leaves the machine."""
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    name = str(host or "").lower().rstrip(".")
    return name == "invalid" or name.endswith(".invalid")


def _getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    # An address literal is parsed, not looked up (no query leaves the machine); connecting to it is checked.
    if _is_invalid_name(host):
        raise socket.gaierror(socket.EAI_NONAME, f"{host!r} is a reserved name that never resolves (RFC 6761)")
    if not is_loopback_host(host) and not _is_ip_literal(host):
        _record(f"name lookup of {host!r} refused by the test network guard")
        raise socket.gaierror(socket.EAI_NONAME, f"the test network guard refused to resolve {host!r}")
    return _original_getaddrinfo(host, *args, **kwargs)


def install() -> None:
    """Guard this process from now on (idempotent)."""
    global _installed
    if _installed:
        return
    socket.socket.connect = _connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _connect_ex  # type: ignore[method-assign]
    socket.socket.sendto = _sendto  # type: ignore[method-assign,assignment]
    socket.getaddrinfo = _getaddrinfo
    _installed = True
