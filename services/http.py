"""The one HTTP stack of the service clients: plain requests sessions (spotipy speaks requests), retries
off, one per thread.

A plain `requests.Session` costs more CPU per call than a hand-made client over `http.client` (the
project had one until `make bench` showed it did not matter: at the services' rate limits, tens of calls
a second per app, the executor's throughput is the limit's, not the client's; see executor/README.md).
What matters is kept: no retrying below the callers (a 429 comes back at once with its `Retry-After`,
the caller and the app's pacing decide), kept-alive connections per thread, no argument dropped.
A session is used by one thread at a time; `ThreadSessions` gives each thread its own.
"""

from __future__ import annotations

import logging
import re
import threading
import weakref
from collections.abc import Callable
from typing import Any

import requests
from requests.adapters import HTTPAdapter

_QUERY = re.compile(r"\?[^\s\"]*")


class QueryRedaction(logging.Filter):
    """urllib3 logs each request line at DEBUG; some services take the fan's token in the query string
    (Deezer's `access_token`), so a query string never reaches a log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "?" in message:
            record.msg, record.args = _QUERY.sub("?…", message), ()
        return True


_URLLIB3_LOG = logging.getLogger("urllib3.connectionpool")
if not any(isinstance(f, QueryRedaction) for f in _URLLIB3_LOG.filters):
    _URLLIB3_LOG.addFilter(QueryRedaction())


def _origin(url: Any) -> str:
    return "/".join(str(url).split("/", 3)[:3])  # scheme://host:port


class _Session(requests.Session):
    """A requests session that reads the environment's proxy, CA and netrc settings once per origin, not
    on every request (requests walks the whole environment twice per call and looks for a netrc file:
    a fifth of the executor's CPU)."""

    def __init__(self) -> None:
        super().__init__()
        self._environment: dict[str, Any] = {}
        self._netrc: dict[str, Any] = {}

    def prepare_request(self, request: requests.Request) -> requests.PreparedRequest:
        if not (self.trust_env and not request.auth and not self.auth):
            return super().prepare_request(request)
        origin = _origin(request.url)
        if origin not in self._netrc:
            self._netrc[origin] = requests.utils.get_netrc_auth(request.url)
        request.auth = self._netrc[origin]
        self.trust_env = False  # the netrc lookup is done: the session is one thread's, so this is safe
        try:
            return super().prepare_request(request)
        finally:
            self.trust_env = True

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> Any:
        if proxies or stream is not None or verify is not None or cert is not None or not self.trust_env:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        origin = _origin(url)
        settings = self._environment.get(origin)
        if settings is None:
            settings = super().merge_environment_settings(url, {}, None, None, None)
            self._environment[origin] = settings
        return {**settings, "proxies": dict(settings["proxies"])}


def new_session() -> requests.Session:
    """A plain requests session with retries off: a 429 or a 5xx comes back at once, with its headers, and
    the caller decides (spotipy's own retrying is never on: it is given this session)."""
    session = _Session()
    adapter = HTTPAdapter(pool_connections=2, pool_maxsize=4, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


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
