"""The OpenAPI document describes the API as it answers (schemathesis checks the answers
themselves in test_schemathesis.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from taskdaemond import defaults
from tests.helpers import handler_table

#: JSON Schema 2020-12's keywords, and the few OpenAPI 3.1 adds to a schema object.
STANDARD_KEYWORDS = frozenset(
    [
        "$schema",
        "$id",
        "$ref",
        "$defs",
        "$anchor",
        "$dynamicRef",
        "$dynamicAnchor",
        "$comment",
        "$vocabulary",
        "allOf",
        "anyOf",
        "oneOf",
        "not",
        "if",
        "then",
        "else",
        "dependentSchemas",
        "prefixItems",
        "items",
        "contains",
        "properties",
        "patternProperties",
        "additionalProperties",
        "propertyNames",
        "unevaluatedItems",
        "unevaluatedProperties",
        "type",
        "enum",
        "const",
        "multipleOf",
        "maximum",
        "exclusiveMaximum",
        "minimum",
        "exclusiveMinimum",
        "maxLength",
        "minLength",
        "pattern",
        "maxItems",
        "minItems",
        "uniqueItems",
        "maxContains",
        "minContains",
        "maxProperties",
        "minProperties",
        "required",
        "dependentRequired",
        "title",
        "description",
        "default",
        "deprecated",
        "readOnly",
        "writeOnly",
        "examples",
        "format",
        "contentEncoding",
        "contentMediaType",
        "contentSchema",
        "discriminator",
        "xml",
        "externalDocs",
        "example",
    ]
)
SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "dependentSchemas")
SCHEMA_VALUES = ("items", "additionalProperties", "not", "contains", "if", "then", "else", "propertyNames")
SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")


def subschemas(schema: Any) -> Iterator[dict[str, Any]]:
    if not isinstance(schema, dict):
        return
    yield schema
    for key in SCHEMA_MAPS:
        for value in schema.get(key, {}).values():
            yield from subschemas(value)
    for key in SCHEMA_VALUES:
        yield from subschemas(schema.get(key))
    for key in SCHEMA_LISTS:
        for value in schema.get(key, []):
            yield from subschemas(value)


def every_schema(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for schema in document.get("components", {}).get("schemas", {}).values():
        yield from subschemas(schema)
    for item in document["paths"].values():
        for operation in item.values():
            for parameter in operation.get("parameters", []):
                yield from subschemas(parameter["schema"])
            for media in operation.get("requestBody", {}).get("content", {}).values():
                yield from subschemas(media["schema"])
            for response in operation["responses"].values():
                for media in response.get("content", {}).values():
                    yield from subschemas(media["schema"])


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    from tests.helpers import Daemon, write_config

    found = []
    started = []
    for name, token in (("open", None), ("token", "t0k")):
        tmp = tmp_path_factory.mktemp(f"openapi-{name}")
        config = write_config(
            tmp / "handlers.toml",
            {"beta": handler_table("behave", instances=1), "alpha": handler_table("behave", instances=1)},
            {"db_path": str(tmp / "queue.db"), "shutdown_grace": 1, **({"token": token} if token else {})},
        )
        daemon = Daemon(config, tmp / "daemon.log").start()
        started.append(daemon)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        found.append(httpx.get(f"{daemon.url}/openapi.json", headers=headers, timeout=10).json())
    yield found[0], found[1]
    for daemon in started:
        daemon.stop()


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield method, path, operation


def test_no_operation_documents_422_and_every_one_documents_400(documents: Any) -> None:
    for document in documents:
        for method, path, operation in operations(document):
            assert "422" not in operation["responses"], (method, path)
            assert "400" in operation["responses"] and "403" in operation["responses"], (method, path)
        assert "HTTPValidationError" not in document["components"]["schemas"]


def test_submit_documents_its_wait_and_the_202_when_the_wait_passes(documents: Any) -> None:
    for document in documents:
        submit = document["paths"]["/queue"]["post"]
        [wait] = [parameter for parameter in submit["parameters"] if parameter["name"] == "wait"]
        assert wait["in"] == "query" and not wait.get("required", False)
        schema = wait["schema"]["anyOf"][0]
        assert schema["exclusiveMinimum"] == 0 and schema["maximum"] == defaults.MAX_LONG_POLL
        pending = submit["responses"]["202"]["content"]["application/json"]["schema"]
        assert pending["required"] == ["task_id", "status"]


@pytest.mark.parametrize(
    ("method", "path", "codes"),
    [
        ("post", "/queue", {"200", "202", "400", "403", "408", "413", "415", "503"}),
        ("post", "/queue/batch", {"200", "400", "403", "408", "413", "415", "503"}),
        ("get", "/api/tasks/{task_id}", {"200", "400", "403", "404", "503"}),
        ("get", "/api/tasks", {"200", "400", "403", "503"}),
        ("delete", "/api/tasks/{task_id}", {"204", "400", "403", "404", "503"}),
        ("post", "/api/tasks/{task_id}/cancel", {"200", "400", "403", "404", "409", "503"}),
        ("post", "/api/tasks/{task_id}/redrive", {"200", "400", "403", "404", "503"}),
        ("post", "/tasks/{task_id}/retry", {"200", "400", "403", "404", "503"}),
        ("get", "/api/tasks/{task_id}/logs", {"200", "400", "403", "404", "503"}),
        ("get", "/health", {"200", "400", "403", "503"}),
        ("head", "/health", {"200", "400", "403"}),
        ("get", "/metrics", {"200", "400", "403"}),
        ("get", "/api/metrics", {"200", "400", "403", "503"}),
    ],
)
def test_each_operation_documents_the_status_codes_it_can_answer(
    documents: Any, method: str, path: str, codes: set[str]
) -> None:
    open_document, token_document = documents
    assert set(open_document["paths"][path][method]["responses"]) == codes
    with_token = codes | ({"401"} if path != "/health" else set())
    assert set(token_document["paths"][path][method]["responses"]) == with_token


def test_metrics_are_documented_as_text(documents: Any) -> None:
    content = documents[0]["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(content) == ["text/plain"]


def test_the_task_type_is_an_enum_of_the_configured_types(documents: Any) -> None:
    paths = documents[0]["paths"]
    submit = paths["/queue"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert submit["properties"]["type"]["enum"] == ["alpha", "beta"]
    assert submit["additionalProperties"] is False
    batch = paths["/queue/batch"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert batch["properties"]["tasks"]["items"]["properties"]["type"]["enum"] == ["alpha", "beta"]


def test_every_schema_uses_standard_keywords_only(documents: Any) -> None:
    for document in documents:
        used = {key for schema in every_schema(document) for key in schema}
        assert used <= STANDARD_KEYWORDS, used - STANDARD_KEYWORDS


def test_the_bearer_scheme_is_documented_when_a_token_is_set(documents: Any) -> None:
    open_document, token_document = documents
    assert "securitySchemes" not in open_document["components"] and "security" not in open_document
    assert token_document["components"]["securitySchemes"] == {"bearer": {"type": "http", "scheme": "bearer"}}
    assert token_document["security"] == [{"bearer": []}]
    assert token_document["paths"]["/health"]["get"]["security"] == [{}, {"bearer": []}]


def test_a_submit_links_to_what_can_be_done_with_its_task(documents: Any) -> None:
    links = documents[0]["paths"]["/queue"]["post"]["responses"]["200"]["links"]
    ids = {operation["operationId"] for _, _, operation in operations(documents[0])}
    assert {link["operationId"] for link in links.values()} <= ids
    assert all(link["parameters"] == {"task_id": "$response.body#/task_id"} for link in links.values())
