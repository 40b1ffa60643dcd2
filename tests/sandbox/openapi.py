"""Checking Spotify traffic against Spotify's OpenAPI description.

`check_calls(calls)` takes call-log records (the dicts of `GET /sandbox/spotify/calls?bodies=true`, or
`Call.as_json(bodies=True)`) and returns every problem found:
- a request whose method and path match no operation of the spec (and, with `check_params`, query
  parameters the operation does not declare or values outside their schema, e.g. `limit` above 10);
- a response whose status the operation does not declare (errors ≥ 400 must then be `{"error":
  ErrorObject}`), or whose body does not validate against the declared schema.

A 400 declared as a bare `ErrorObject` (the 2026 `/me/library` operations) is checked as
`{"error": ErrorObject}`, the shape every Spotify error has. Fields the spec marks `deprecated` are
treated as optional: Spotify removes them for development-mode apps (February 2026), so their absence
is faithful. Use `assert_calls_match_spec` in tests.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import yaml
from openapi_schema_validator import OAS30Validator

SPEC_PATH = Path(__file__).parent / "data" / "spotify-web-api.openapi.yml"
API_PREFIX = "/spotify/v1"
ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"$ref": "#/components/schemas/ErrorObject"}},
}


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    pattern: re.Pattern[str]
    spec: Mapping[str, Any]


def _relax_deprecated(node: Any) -> None:
    """Drop deprecated properties from `required` lists, everywhere in the document.

    Also drops `discriminator`s: the spec's have no mapping, and the implicit one (`type: track` →
    `#/components/schemas/track`) names no schema; the `oneOf` beside each still decides.
    """
    if isinstance(node, dict):
        node.pop("discriminator", None)
        properties = node.get("properties")
        if isinstance(properties, dict) and isinstance(node.get("required"), list):
            node["required"] = [
                name
                for name in node["required"]
                if not (isinstance(properties.get(name), dict) and properties[name].get("deprecated"))
            ]
        if isinstance(node.get("required"), list) and isinstance(node.get("allOf"), list):
            deprecated = set()
            for part in node["allOf"]:
                for name, prop in (part.get("properties") or {}).items():
                    if isinstance(prop, dict) and prop.get("deprecated"):
                        deprecated.add(name)
            node["required"] = [n for n in node["required"] if n not in deprecated]
        for value in node.values():
            _relax_deprecated(value)
    elif isinstance(node, list):
        for value in node:
            _relax_deprecated(value)


class SpotifySpec:
    def __init__(self, document: dict[str, Any]) -> None:
        _relax_deprecated(document)
        self.document = document
        self.components = document["components"]
        self.operations: list[Operation] = []
        for template, item in document["paths"].items():
            pattern = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$")
            for method, operation in item.items():
                if method in ("get", "put", "post", "delete", "patch"):
                    self.operations.append(Operation(method.upper(), template, pattern, operation))
        # literal paths before templated ones (`/me/albums/contains` is not `/albums/{id}`-like)
        self.operations.sort(key=lambda o: o.template.count("{"))
        self._validators: dict[int, OAS30Validator] = {}

    def resolve(self, node: Mapping[str, Any]) -> Mapping[str, Any]:
        while "$ref" in node:
            _, _, kind, name = node["$ref"].split("/")
            node = self.components[kind][name]
        return node

    def operation(self, method: str, path: str) -> Operation | None:
        path = path.rstrip("/") or "/"
        for operation in self.operations:
            if operation.method == method and operation.pattern.match(path):
                return operation
        return None

    def validator(self, schema: Mapping[str, Any]) -> OAS30Validator:
        key = id(schema)
        validator = self._validators.get(key)
        if validator is None:
            wrapper = {"components": self.components, "allOf": [schema]}
            validator = self._validators[key] = OAS30Validator(wrapper)
        return validator

    def parameters(self, operation: Operation) -> dict[str, Mapping[str, Any]]:
        declared = {}
        for raw in operation.spec.get("parameters", []):
            parameter = self.resolve(raw)
            if parameter.get("in") == "query":
                declared[parameter["name"]] = parameter
        return declared

    def check_request(self, method: str, path: str, query: str, *, check_params: bool) -> list[str]:
        operation = self.operation(method, path)
        if operation is None:
            return [f"{method} {path}: no such operation in the Spotify Web API"]
        if not check_params:
            return []
        problems = []
        declared = self.parameters(operation)
        for name, value in parse_qsl(query, keep_blank_values=True):
            parameter = declared.get(name)
            if parameter is None:
                problems.append(f"{method} {operation.template}: undeclared query parameter {name!r}")
                continue
            schema = parameter.get("schema", {})
            candidate: Any = value
            if schema.get("type") == "integer":
                try:
                    candidate = int(value)
                except ValueError:
                    problems.append(f"{method} {operation.template}: {name}={value!r} is not an integer")
                    continue
            if schema.get("type") == "array":
                candidate = value.split(",")
            for error in self.validator(schema).iter_errors(candidate):
                problems.append(f"{method} {operation.template}: {name}={value!r}: {error.message}")
        sent = dict(parse_qsl(query, keep_blank_values=True))
        body_may_carry = {"ids"} if operation.spec.get("requestBody") else set()
        for name, parameter in declared.items():
            if parameter.get("required") and name not in sent and name not in body_may_carry:
                problems.append(f"{method} {operation.template}: required query parameter {name!r} missing")
        return problems

    def check_response(
        self, method: str, path: str, status: int, content_type: str | None, body: str
    ) -> list[str]:
        operation = self.operation(method, path)
        where = f"{method} {path} → {status}"
        if operation is None:
            if status == 404 or status == 405:
                return self._check_body(where, ERROR_SCHEMA, body)
            return [f"{where}: answered an operation the spec does not have"]
        responses = operation.spec.get("responses", {})
        declared = responses.get(str(status))
        if declared is None:
            if status >= 400:
                return self._check_body(where, ERROR_SCHEMA, body)
            return [f"{where}: status not declared (declared: {sorted(responses)})"]
        declared = self.resolve(declared)
        content = declared.get("content")
        if not content:
            return [] if not body else [f"{where}: the spec declares no body, the sandbox sent {body[:80]!r}"]
        if content_type is None or "json" not in content_type:
            return [f"{where}: content type {content_type!r} where the spec declares JSON"]
        schema = content.get("application/json", {}).get("schema")
        if status >= 400 and schema == {"$ref": "#/components/schemas/ErrorObject"}:
            # The 2026 /me/library operations declare a bare ErrorObject for 400; every Spotify error
            # (and every other operation of the spec) wraps it as {"error": ErrorObject}.
            schema = ERROR_SCHEMA
        return self._check_body(where, schema, body) if schema else []

    def _check_body(self, where: str, schema: Mapping[str, Any], body: str) -> list[str]:
        try:
            document = json.loads(body)
        except ValueError:
            return [f"{where}: body is not JSON: {body[:80]!r}"]
        return [
            f"{where}: {'/'.join(str(p) for p in error.absolute_path) or '(body)'}: {error.message[:300]}"
            for error in self.validator(schema).iter_errors(document)
        ]


@cache
def spotify_spec() -> SpotifySpec:
    return SpotifySpec(yaml.safe_load(SPEC_PATH.read_text()))


def api_path(path: str, prefix: str = API_PREFIX) -> str | None:
    """The Web API path of a logged call (None if the call did not go to the Web API)."""
    if not path.startswith(prefix):
        return None
    return path[len(prefix) :] or "/"


def check_calls(
    calls: Iterable[Mapping[str, Any]],
    *,
    requests: bool = True,
    responses: bool = True,
    check_params: bool = False,
    prefix: str = API_PREFIX,
) -> list[str]:
    """Every problem in these Web API calls (accounts-service calls and others are skipped)."""
    spec = spotify_spec()
    problems: list[str] = []
    for call in calls:
        if call.get("service", "spotify") != "spotify":
            continue
        path = api_path(call["path"], prefix)
        if path is None:
            continue
        if requests:
            problems += spec.check_request(
                call["method"], path, call.get("query", ""), check_params=check_params
            )
        if responses and call.get("status") and call.get("response_body") is not None:
            problems += spec.check_response(
                call["method"], path, call["status"], call.get("response_type"), call["response_body"]
            )
    return problems


def assert_calls_match_spec(calls: Iterable[Mapping[str, Any]], **options: Any) -> None:
    problems = check_calls(calls, **options)
    if problems:
        shown = "\n".join(sorted(set(problems))[:40])
        raise AssertionError(f"{len(problems)} Spotify spec violation(s):\n{shown}")
