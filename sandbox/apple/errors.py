"""Apple Music API errors: `{"errors": [{"id", "title", "detail", "status", "code"}]}` (strings)."""

from __future__ import annotations

import json
import uuid


class AppleError(Exception):
    def __init__(self, status: int, title: str, detail: str, code: str) -> None:
        super().__init__(f"{status} {title}: {detail}")
        self.status, self.title, self.detail, self.code = status, title, detail, code


def errors_body(status: int, title: str, detail: str, code: str) -> bytes:
    error = {
        "id": str(uuid.uuid4()).upper(),
        "title": title,
        "detail": detail,
        "status": str(status),
        "code": code,
    }
    return json.dumps({"errors": [error]}).encode()


def unauthorized(detail: str) -> AppleError:
    return AppleError(401, "Unauthorized", detail, "40100")


def forbidden(detail: str) -> AppleError:
    return AppleError(403, "Forbidden", detail, "40300")


def not_found(detail: str = "Resource with requested id was not found") -> AppleError:
    return AppleError(404, "Resource Not Found", detail, "40400")


def bad_parameter(detail: str) -> AppleError:
    return AppleError(400, "Invalid Parameter Value", detail, "40005")
