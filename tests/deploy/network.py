"""Pods' networks on one machine: each pod in a network namespace of its own (its ports are the manifest's,
whatever else this machine listens on), and TCP forwarders standing for the cluster's Services. A
forwarder's listening socket is made in one namespace and its connections in another (Linux `setns` is
per thread), so a pod reaches this machine's PostgreSQL or Redis, or another pod, at 127.0.0.1:<port> as
the test's Secrets name them, and the test (as the kubelet) reaches a pod's port through a port of its own.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import socket
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)
_HOST = os.open("/proc/self/ns/net", os.O_RDONLY)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns failed")


def in_namespace(namespace: int | None, work: Callable[[], T]) -> T:
    """`work` done by this thread inside the network namespace `namespace` (None: this machine's)."""
    if namespace is None:
        return work()
    _setns(namespace)
    try:
        return work()
    finally:
        _setns(_HOST)


def namespace_of(pid: int) -> int:
    return os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)


class Forwarder:
    """Listens at 127.0.0.1:`listen_port` in `listen_ns` and carries each connection to
    127.0.0.1:`target_port` in `target_ns` (None: this machine's namespace)."""

    def __init__(
        self, listen_ns: int | None, listen_port: int, target_ns: int | None, target_port: int
    ) -> None:
        self.target = (target_ns, target_port)
        self._server = in_namespace(listen_ns, lambda: socket.create_server(("127.0.0.1", listen_port)))
        self.port = self._server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._carry, args=(client,), daemon=True).start()

    def _carry(self, client: socket.socket) -> None:
        namespace, port = self.target
        try:
            upstream = in_namespace(
                namespace, lambda: socket.create_connection(("127.0.0.1", port), timeout=10)
            )
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        threading.Thread(target=_pipe, args=(upstream, client), daemon=True).start()
        _pipe(client, upstream)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._server.close()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
