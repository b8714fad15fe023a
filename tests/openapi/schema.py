"""Which of OpenAI's schemas a response of kobo's must match, and the check itself.

:func:`check_response` takes what a client saw (method, URL path, status, content type, body)
and raises :class:`SchemaMismatch` naming the route and every field that breaks OpenAI's
published schema (the subset in ``openai-subset.json``). Which schema: the operation's success
response for a 2xx under ``/v1``, OpenAI's error object for any 4xx/5xx under ``/v1``. Paths
outside ``/v1`` (the old firmware's ``/get_text``, ``/api/v1/stacks``, ``/healthz``) are not
OpenAI's and are not checked; neither are bodies that are not JSON or SSE (file content).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from jsonschema.validators import extend
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SUBSET_PATH = Path(__file__).with_name("openai-subset.json")
SUBSET_URI = "urn:kobo:openai-subset"
API_PREFIX = "/v1"
JSON = "application/json"
EVENT_STREAM = "text/event-stream"
MAX_REPORTED = 10  # fields named per mismatch


class SchemaMismatch(AssertionError):
    """A response of kobo's that OpenAI's schema does not allow."""


@dataclass(frozen=True)
class Route:
    method: str
    template: str  # OpenAI's path under /v1, e.g. "/models/{model}"
    pattern: re.Pattern[str]


def _null_allowed_when_nullable(keyword: Any) -> Any:
    def check(validator: Any, value: Any, instance: Any, schema: dict[str, Any]) -> Any:
        if instance is None and schema.get("nullable") is True:
            return
        yield from keyword(validator, value, instance, schema)

    return check


def _exclusive_bound(keyword: Any, bound: str, beyond: Any) -> Any:
    def check(validator: Any, value: Any, instance: Any, schema: dict[str, Any]) -> Any:
        if not isinstance(value, bool):
            yield from keyword(validator, value, instance, schema)
        elif (
            value and validator.is_type(instance, "number") and not beyond(instance, schema[bound])
        ):
            yield ValidationError(
                f"{instance!r} is not beyond the exclusive {bound} {schema[bound]}"
            )

    return check


# OpenAI's spec says OpenAPI 3.1 (JSON Schema 2020-12) but still has some of 3.0's keywords:
# ``nullable: true`` (the stream chunk's finish_reason, usage, logprobs: null is allowed there)
# and a boolean ``exclusiveMinimum`` (learning_rate_multiplier: above ``minimum``, not above 1).
_KEYWORDS = Draft202012Validator.VALIDATORS
OpenAISchemaValidator = extend(
    Draft202012Validator,
    {
        **_KEYWORDS,
        "exclusiveMinimum": _exclusive_bound(
            _KEYWORDS["exclusiveMinimum"], "minimum", lambda n, b: n > b
        ),
        "exclusiveMaximum": _exclusive_bound(
            _KEYWORDS["exclusiveMaximum"], "maximum", lambda n, b: n < b
        ),
    },
)
OpenAISchemaValidator = extend(
    OpenAISchemaValidator,
    {
        name: _null_allowed_when_nullable(keyword)
        for name, keyword in OpenAISchemaValidator.VALIDATORS.items()
    },
)


@functools.cache
def subset() -> dict[str, Any]:
    return json.loads(SUBSET_PATH.read_text(encoding="utf-8"))


@functools.cache
def _registry() -> Registry:
    resource = Resource.from_contents(subset(), default_specification=DRAFT202012)
    return Registry().with_resource(SUBSET_URI, resource)


@functools.cache
def _validator(pointer: str) -> Any:
    """``pointer``: a JSON pointer into the subset, e.g. ``/components/schemas/Model``."""
    return OpenAISchemaValidator({"$ref": f"{SUBSET_URI}#{pointer}"}, registry=_registry())


@functools.cache
def _routes() -> tuple[Route, ...]:
    routes = []
    for template, operations in subset()["paths"].items():
        regex = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
        routes.extend(Route(m.upper(), template, re.compile(regex)) for m in operations)
    return tuple(routes)


def is_checked(path: str) -> bool:
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def schema_pointer(method: str, path: str, status: int, content_type: str) -> str:
    """Where in the subset the schema of this response is; raises :class:`SchemaMismatch`
    for a success that no OpenAI operation kobo serves answers."""
    if status >= 400:
        return subset()["x-error-schema"].removeprefix("#")
    route = _route(method, path)
    responses = subset()["paths"][route.template][route.method.lower()]["responses"]
    content = responses.get(str(status), {}).get("content", {})
    if content_type not in content:
        raise SchemaMismatch(
            f"{method} {path} answered {status} {content_type}: OpenAI's {route.template}"
            f" answers {sorted(responses)} with {sorted(content) or 'no body'}"
        )
    operation = f"/paths/{_escape(route.template)}/{route.method.lower()}"
    return f"{operation}/responses/{status}/content/{_escape(content_type)}/schema"


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _route(method: str, path: str) -> Route:
    under = path.removeprefix(API_PREFIX) or "/"
    for route in _routes():
        if route.method == method.upper() and route.pattern.fullmatch(under):
            return route
    raise SchemaMismatch(
        f"{method} {path} answered a JSON success, but OpenAI's API has no {method} {under}"
        " among the operations in tests/openapi/openai-subset.json"
    )


def check_body(where: str, pointer: str, body: Any) -> None:
    errors = sorted(_validator(pointer).iter_errors(body), key=lambda e: list(e.absolute_path))
    if errors:
        schema = pointer.rsplit("/", 1)[-1] if "components" in pointer else _ref_name(pointer)
        lines = [_describe(error) for error in errors[:MAX_REPORTED]]
        more = f"\n  … and {len(errors) - MAX_REPORTED} more" if len(errors) > MAX_REPORTED else ""
        raise SchemaMismatch(
            f"{where} does not match OpenAI's {schema}:\n  " + "\n  ".join(lines) + more
        )


def _ref_name(pointer: str) -> str:
    node: Any = subset()
    for token in pointer.strip("/").split("/"):
        node = node[token.replace("~1", "/").replace("~0", "~")]
    return node.get("$ref", pointer).rsplit("/", 1)[-1]


def _describe(error: ValidationError) -> str:
    """The field (``$.choices[0].logprobs``) and the deepest reason an anyOf/oneOf gives."""
    deepest = error
    while deepest.context:
        deepest = best_match(deepest.context)
    field = error.json_path if deepest is error else deepest.json_path
    return f"{field}: {deepest.message}"


def check_json(method: str, path: str, status: int, raw: bytes) -> None:
    where = f"{method} {path} → {status}"
    pointer = schema_pointer(method, path, status, JSON)
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise SchemaMismatch(f"{where}: the body is not JSON: {exc}") from None
    check_body(where, pointer, body)


class EventStreamCheck:
    """Checks each ``data:`` event of a server-sent event stream as it arrives."""

    def __init__(self, method: str, path: str, status: int):
        self.where = f"{method} {path} → {status} (event stream)"
        self.pointer = schema_pointer(method, path, status, EVENT_STREAM)
        self._pending = b""
        self.events = 0

    def feed(self, chunk: bytes) -> Iterator[bytes]:
        """Each event ``chunk`` completes, checked before it is given (line ends as ``\\n``)."""
        self._pending += chunk.replace(b"\r\n", b"\n")
        *complete, self._pending = self._pending.split(b"\n\n")
        for event in complete:
            self._check_event(event)
            yield event + b"\n\n"

    def finish(self) -> bytes:
        """What is left after the last complete event, checked."""
        left, self._pending = self._pending, b""
        if left.strip():
            self._check_event(left)
        return left

    def _check_event(self, event: bytes) -> None:
        data = b"\n".join(
            line[5:].removeprefix(b" ") for line in event.split(b"\n") if line.startswith(b"data:")
        )
        if not data or data == b"[DONE]":
            return
        self.events += 1
        where = f"{self.where} event {self.events}"
        try:
            body = json.loads(data)
        except ValueError as exc:
            raise SchemaMismatch(f"{where}: the data is not JSON: {exc}") from None
        # OpenAI ends a failing stream with an error event (the SDK raises it as APIError).
        is_error = isinstance(body, dict) and "error" in body and "object" not in body
        check_body(
            where, subset()["x-error-schema"].removeprefix("#") if is_error else self.pointer, body
        )


def check_response(
    method: str, path: str, status: int, content_type: str | None, raw: bytes
) -> None:
    """The check of a JSON body read whole. Event streams are checked event by event where the
    SDK reads them (:class:`EventStreamCheck`), not here: tests read raw streams to see how
    they break."""
    if not is_checked(path) or method.upper() == "HEAD":
        return
    if media_type(content_type) == JSON:
        check_json(method, path, status, raw)
    elif status >= 400:
        raise SchemaMismatch(
            f"{method} {path} → {status} answered {content_type or 'no content type'},"
            " not OpenAI's JSON error object"
        )
