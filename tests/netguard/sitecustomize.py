"""Blocks network access in every Python process that imports it, children included.

pytest-socket and conftest monkeypatches do not reach forkserver, spawn or Ray worker processes; a
sitecustomize on PYTHONPATH does. Active only when CURATE_BLOCK_NETWORK=1. Unix sockets and loopback stay
allowed (multiprocessing managers and Ray talk over them).
"""

import os
import socket

if os.environ.get("CURATE_BLOCK_NETWORK") == "1":
    _connect = socket.socket.connect
    _connect_ex = socket.socket.connect_ex
    _getaddrinfo = socket.getaddrinfo
    LOOPBACK = ("127.", "::1", "localhost", "0.0.0.0")

    def _allowed(sock, address) -> bool:
        if sock.family == socket.AF_UNIX:
            return True
        host = address[0] if isinstance(address, tuple) else str(address)
        return str(host).startswith(LOOPBACK)

    def _refuse(address):
        raise ConnectionRefusedError(f"network blocked by curate's test guard: connect to {address!r}")

    def guarded_connect(self, address):
        if not _allowed(self, address):
            _refuse(address)
        return _connect(self, address)

    def guarded_connect_ex(self, address):
        if not _allowed(self, address):
            _refuse(address)
        return _connect_ex(self, address)

    def _is_ip_literal(host) -> bool:
        import ipaddress

        try:
            ipaddress.ip_address(str(host).strip("[]"))
            return True
        except ValueError:
            return False

    def guarded_getaddrinfo(host, *args, **kwargs):
        # Resolving an IP literal or this machine's own name asks no DNS server; connect() guards the rest.
        if host and not str(host).startswith(LOOPBACK) and host != socket.gethostname() and not _is_ip_literal(host):
            raise socket.gaierror(f"network blocked by curate's test guard: resolve {host!r}")
        return _getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = guarded_connect
    socket.socket.connect_ex = guarded_connect_ex
    socket.getaddrinfo = guarded_getaddrinfo
