"""A lean HTTP session for the executor's clients: requests' interface over one urllib3 connection pool.

spotipy (and the Apple and Deezer clients) call `session.request(...)` and read a `requests.Response`.
A stock `requests.Session` spends about as much CPU per call as the whole HTTP exchange (cookie jar,
hooks, environment and proxy lookups, adapters, redirects); on release day the executor makes one call
per owed action, so the session keeps only what these clients use: query, body, headers, basic auth, a
timeout. No retries (the executor owns them), no redirects (the APIs answer directly), no cookies.
Errors are requests' own (`Timeout`, `ConnectionError`), so callers cannot tell the difference.
"""

from __future__ import annotations

from base64 import b64encode
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import requests
import urllib3
from requests.structures import CaseInsensitiveDict

FORM = "application/x-www-form-urlencoded"


class LeanSession(requests.Session):
    def __init__(self, pool_size: int = 4) -> None:
        super().__init__()
        self.trust_env = False
        self._pool = urllib3.PoolManager(num_pools=4, maxsize=pool_size, retries=False)

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
            import json as json_module

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
        connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        try:
            answer = self._pool.request(
                method,
                url,
                body=body,
                headers=sent,
                timeout=urllib3.Timeout(connect=connect, read=read),
                redirect=False,
                preload_content=True,
            )
        except urllib3.exceptions.ConnectTimeoutError as exc:
            raise requests.ConnectTimeout(str(exc.__class__.__name__)) from None
        except (urllib3.exceptions.ReadTimeoutError, urllib3.exceptions.TimeoutError) as exc:
            raise requests.ReadTimeout(str(exc.__class__.__name__)) from None
        except urllib3.exceptions.HTTPError as exc:
            raise requests.ConnectionError(exc.__class__.__name__) from None
        response = requests.Response()
        response.status_code = answer.status
        response.headers = CaseInsensitiveDict(answer.headers)
        response._content = answer.data
        response.url = url
        response.reason = answer.reason or ""
        response.encoding = "utf-8"
        return response

    def close(self) -> None:
        self._pool.clear()
        super().close()


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)
