"""HTTP for the service connectors: a lean kept-alive session per thread, JSON answers, errors without URLs.

A grant makes three service calls while the fan waits, and the client's own cost per call shows at
hundreds of grants a second (bench/landing.py): the lean session spends less per call than urllib3's pool
or httpx. The routes run on a small thread pool, so each thread keeps its own connections. Nothing here
raises or logs a URL: Deezer's carry the fan's token in the query.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

import requests

from collectors.landing.connectors import ConnectError
from services.http import LeanSession


@dataclass(frozen=True)
class Answer:
    status_code: int
    content: bytes

    def json_object(self) -> dict[str, Any]:
        """The body as a JSON object; anything else (HTML, a list, garbage) as an empty one."""
        try:
            body = json.loads(self.content)
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}


class Transport:
    def __init__(self, *, timeout_s: float = 10.0, connect_s: float = 5.0) -> None:
        self._timeout = (connect_s, timeout_s)
        self._local = threading.local()
        self._sessions: list[LeanSession] = []
        self._lock = threading.Lock()

    def request(
        self,
        service: str,
        method: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        form: dict[str, str] | None = None,
        json_body: Any = None,
        basic: tuple[str, str] | None = None,
    ) -> Answer:
        try:
            response = self._session().request(
                method,
                url,
                params=params,
                data=form,
                json=json_body,
                headers=headers,
                auth=basic,
                timeout=self._timeout,
            )
        except requests.Timeout:
            raise ConnectError(service, "timeout") from None
        except (requests.RequestException, OSError, ValueError) as exc:
            raise ConnectError(service, type(exc).__name__) from None
        return Answer(response.status_code, response.content)

    def _session(self) -> LeanSession:
        session: LeanSession | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = LeanSession()
            with self._lock:
                self._sessions.append(session)
        return session

    def close(self) -> None:
        with self._lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()
