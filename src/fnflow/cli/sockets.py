"""The server's listening socket, bound before anything else happens, and who holds a busy port."""

from __future__ import annotations

import contextlib
import errno
import os
import socket
from pathlib import Path


class CannotListen(Exception):
    """The address cannot be had; the message says why (for a busy port: which process holds it)."""


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (IPv4 or IPv6, as ``host`` resolves)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except OSError as e:
        raise CannotListen(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(address)
        sock.listen(2048)
    except OSError as e:
        sock.close()
        if e.errno != errno.EADDRINUSE:
            raise CannotListen(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
        holder = port_holder(port)
        by = f" by {holder}" if holder else ""
        raise CannotListen(
            f"port {port} on {host} is in use{by}: stop it, or pick another port with --port"
            " (env FNFLOW_PORT; `make run PORT=8081`)"
        ) from None
    sock.set_inheritable(False)
    return sock


def port_holder(port: int) -> str | None:
    """``pid N (command line)`` of a process listening on ``port``, if this machine's /proc says."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state == "0A" and int(local.rpartition(":")[2], 16) == port:  # 0A: LISTEN
                    inodes.add(f"socket:[{inode}]")
    if not inodes:
        return None
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
                        return f"pid {pid} ({_command_line(pid)})"
    return "a process this user cannot see"


def _command_line(pid: str) -> str:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    return " ".join(a.decode(errors="replace") for a in argv if a)[:200]
