"""The one HTTP stack of the service clients: requests sessions (spotipy speaks requests), one per thread.

`new_session()` is what every client uses. `LeanSession` is requests' interface over kept-alive
`http.client` connections, one per host:

spotipy (and the Apple and Deezer clients) call `session.request(...)` and read a `requests.Response`.
A stock `requests.Session` spends more CPU per call than the whole exchange with the server (cookie jar,
hooks, environment and proxy lookups, adapters, urllib3's URL handling); on release day the executor makes
one call per owed action, so this session keeps only what these clients use: a query, a body, headers,
basic auth and a timeout. No retries (the executor owns them), no redirects, no cookies, no proxies.
Errors are requests' own (`Timeout`, `ConnectionError`), so callers cannot tell the difference.

A session is used by one thread at a time (one per worker thread); it is not safe to share.
"""

from __future__ import annotations

import http.client
import json as json_module
import select
import socket
import ssl
import threading
import weakref
from base64 import b64encode
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict

FORM = "application/x-www-form-urlencoded"
DEFAULT_TIMEOUT = 30.0


def new_session() -> requests.Session:
    """A plain requests session with retries off: a 429 or a 5xx comes back at once, with its headers, and
    the caller decides (spotipy's own retrying and urllib3's are both off)."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=2, pool_maxsize=4, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


@cache
def _tls() -> ssl.SSLContext:
    return ssl.create_default_context()  # built once: creating a context costs milliseconds


class LeanSession(requests.Session):
    def __init__(self, pool_size: int = 1) -> None:
        super().__init__()
        self.trust_env = False
        self._connections: dict[tuple[str, str, int], http.client.HTTPConnection] = {}

    def request(  # type: ignore[override]
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | tuple[float, float] | None = None,
        auth: tuple[str, str] | None = None,
        json: Any = None,
        **_ignored: Any,
    ) -> requests.Response:
        if params:
            query = urlencode([(k, _text(v)) for k, v in params.items() if v is not None])
            if query:
                url = f"{url}{'&' if '?' in url else '?'}{query}"
        sent = dict(headers or {})
        body: bytes | None = None
        if json is not None:
            body = json_module.dumps(json).encode()
            sent.setdefault("Content-Type", "application/json")
        elif isinstance(data, Mapping):
            body = urlencode([(k, _text(v)) for k, v in data.items() if v is not None]).encode()
            sent["Content-Type"] = FORM
        elif isinstance(data, str):
            body = data.encode()
        elif isinstance(data, bytes):
            body = data
        if auth is not None:
            sent["Authorization"] = "Basic " + b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        if body is None and method in ("POST", "PUT", "PATCH"):
            sent["Content-Length"] = "0"
        connect_s, read_s = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        parts = urlsplit(url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection = self._connection(parts.scheme, parts.hostname or "", parts.port, connect_s)
        try:
            if connection.sock is not None:
                connection.sock.settimeout(read_s or DEFAULT_TIMEOUT)
            connection.request(method, path, body=body, headers=sent)
            if connection.sock is not None:
                connection.sock.settimeout(read_s or DEFAULT_TIMEOUT)
            answer = connection.getresponse()
            content = answer.read()
        except TimeoutError:
            self._drop(connection)
            raise requests.ReadTimeout("timed out") from None
        except (OSError, http.client.HTTPException) as exc:
            self._drop(connection)
            raise requests.ConnectionError(type(exc).__name__) from None
        if answer.will_close:
            self._drop(connection)
        response = requests.Response()
        response.status_code = answer.status
        response.headers = CaseInsensitiveDict(answer.getheaders())
        response._content = content
        response.url = url
        response.reason = answer.reason or ""
        response.encoding = "utf-8"
        return response

    def _connection(
        self, scheme: str, host: str, port: int | None, connect_s: float | None
    ) -> http.client.HTTPConnection:
        key = (scheme, host, port or (443 if scheme == "https" else 80))
        connection = self._connections.get(key)
        if connection is not None and connection.sock is not None and _closed_by_peer(connection.sock):
            self._drop(connection)
            connection = None
        if connection is None:
            timeout = connect_s or DEFAULT_TIMEOUT
            if scheme == "https":
                connection = http.client.HTTPSConnection(host, key[2], timeout=timeout, context=_tls())
            else:
                connection = http.client.HTTPConnection(host, key[2], timeout=timeout)
            self._connections[key] = connection
        return connection

    def _drop(self, connection: http.client.HTTPConnection) -> None:
        connection.close()
        for key, known in list(self._connections.items()):
            if known is connection:
                del self._connections[key]

    def close(self) -> None:
        for connection in self._connections.values():
            connection.close()
        self._connections.clear()
        super().close()


def _closed_by_peer(sock: socket.socket) -> bool:
    """An idle kept-alive connection is readable only if the server closed it (or broke protocol)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


class ThreadSessions:
    """One HTTP session per thread (a session is not safe to share), closed together at the end."""

    def __init__(self, factory: Callable[[], requests.Session] | None = None) -> None:
        self._factory = factory or new_session
        self._local = threading.local()
        self._sessions: weakref.WeakSet[requests.Session] = weakref.WeakSet()  # a dead thread's goes
        self._lock = threading.Lock()

    def session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = self._factory()
            with self._lock:
                self._sessions.add(session)
        return session

    def close(self) -> None:
        with self._lock:
            sessions, self._sessions = list(self._sessions), weakref.WeakSet()
        for session in sessions:
            session.close()
        self._local = threading.local()
