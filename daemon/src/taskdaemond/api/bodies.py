"""Request bodies: parsed and validated in one pass, with errors a person can act on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

from taskdaemond import defaults, jsonfast


class BadRequest(Exception):
    """Raised when a request is not what the endpoint takes; becomes a 400."""

    def __init__(self, message: str, detail: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


ModelT = TypeVar("ModelT", bound=BaseModel)


async def parse_body(request: Request, model: type[ModelT]) -> ModelT:
    """The body as ``model``, whatever Content-Type the client sent (TaskDaemon's clients
    do not all send application/json); BadRequest says what is wrong."""
    raw = await request.body()
    try:
        # Parsed and validated in one pass by pydantic-core (a batch of many tasks is the
        # submit path's cost); a JSON syntax error is reported with the stdlib's words.
        return model.model_validate_json(raw)
    except ValidationError as exc:
        invalid = [error for error in exc.errors() if error.get("type") == "json_invalid"]
        if invalid:
            if "recursion limit" in str(invalid[0].get("ctx", {}).get("error", "")):
                raise BadRequest(too_deep()) from None
            try:
                jsonfast.loads(raw)
            except RecursionError:
                raise BadRequest(too_deep()) from None
            except ValueError as syntax:
                raise BadRequest(f"malformed JSON: {syntax}") from None
        raise BadRequest(describe_errors(exc.errors()), jsonable(exc.errors())) from None


def too_deep() -> str:
    return f"malformed JSON: nested more than {defaults.MAX_JSON_DEPTH} levels deep"


def body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI requestBody for an endpoint that parses ``model`` itself."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def inline(node: Any) -> Any:  # the document has no $defs: put each definition in place
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return inline(definitions[ref.removeprefix("#/$defs/")])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(value) for value in node]
        return node

    return {"requestBody": {"required": True, "content": {"application/json": {"schema": inline(schema)}}}}


def describe_validation(errors: Sequence[Any]) -> str:
    """The message of a 400 for FastAPI's own validation (query and path parameters)."""
    for item in errors:
        if item.get("type") == "json_invalid":
            return f"malformed JSON: {item.get('ctx', {}).get('error', item.get('msg'))}"
    return describe_errors(errors)


def describe_errors(errors: Sequence[Any]) -> str:
    """One sentence for pydantic's list of errors: what is wrong, where."""
    problems = []
    for item in errors:
        kind = item.get("type", "")
        loc = [str(part) for part in item.get("loc", ()) if part != "body"]
        field = ".".join(loc)
        if kind == "missing" and loc and loc[-1] == "type":
            problems.append("type is required (the task type)")
        elif kind in ("model_attributes_type", "model_type", "dict_type") and not field:
            problems.append("the body must be a JSON object")
        elif kind == "dict_type" and loc and loc[-1] == "data":
            problems.append(f"{field} must be a JSON object")
        elif kind == "missing":
            problems.append(f"{field} is required")
        elif kind == "extra_forbidden":
            problems.append(f"unknown field {field!r}")
        elif kind == "value_error":
            problems.append(str(item.get("ctx", {}).get("error", item.get("msg"))))
        else:
            problems.append(f"{field}: {item.get('msg')}" if field else str(item.get("msg")))
    return "; ".join(problems) or "invalid request"


def jsonable(value: Any) -> Any:
    """pydantic error lists may hold exceptions in ``ctx``: keep them printable."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items() if k != "input"}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
