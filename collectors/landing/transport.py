"""HTTP for the service connectors: one urllib3 pool per process, JSON answers, errors without URLs.

urllib3 rather than httpx here because a grant makes three service calls while the fan waits and the
client's own cost per call shows at hundreds of grants a second (bench/landing.py). Nothing here raises
or logs a URL: Deezer's carry the fan's token in the query.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import urllib3

from collectors.landing.connectors import ConnectError


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
    def __init__(self, *, timeout_s: float = 10.0, connect_s: float = 5.0, per_host: int = 64) -> None:
        self._pool = urllib3.PoolManager(
            num_pools=16,
            maxsize=per_host,
            block=False,  # over `per_host` at once: extra connections, closed after use
            timeout=urllib3.Timeout(connect=connect_s, read=timeout_s),
            retries=False,  # a retry belongs to the executor, never to a fan waiting on a page
        )

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
        sent = dict(headers or {})
        body: bytes | None = None
        if form is not None:
            body = urlencode(form).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        elif json_body is not None:
            body = json.dumps(json_body).encode()
            sent["Content-Type"] = "application/json"
        if basic is not None:
            sent["Authorization"] = "Basic " + base64.b64encode(f"{basic[0]}:{basic[1]}".encode()).decode()
        target = f"{url}?{urlencode(params)}" if params else url
        try:
            response = self._pool.request(method, target, body=body, headers=sent, redirect=False)
        except urllib3.exceptions.TimeoutError:
            raise ConnectError(service, "timeout") from None
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            raise ConnectError(service, type(exc).__name__) from None
        return Answer(response.status, response.data)

    def close(self) -> None:
        self._pool.clear()
