"""Task tags through the HTTP API of a real daemon: given at submit (one or a batch), bounded,
stored and returned, filtered with ?tag=key:value, and given to the handler."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from taskdaemond import defaults
from tests.helpers import Daemon, handler_table, serving


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    with serving(
        tmp_path_factory.mktemp("tags"), {"steps": handler_table("steps", instances=1)}, {"shutdown_grace": 1}
    ) as instance:
        yield instance


def submit(client: httpx.Client, **body: Any) -> httpx.Response:
    return client.post("/queue", json={"type": "steps", "data": {"steps": 0, "echo_tags": True}, **body})


def test_tags_are_stored_returned_and_given_to_the_handler(client: httpx.Client) -> None:
    answer = submit(client, tags={"tenant": "acme", "source": "import:2026"})
    assert answer.status_code == 200, answer.text
    task = client.get(f"/api/tasks/{answer.json()['task_id']}", params={"wait": 30}).json()
    assert task["tags"] == {"tenant": "acme", "source": "import:2026"}
    assert task["result"] == {"tags": {"tenant": "acme", "source": "import:2026"}}, (
        "the handler saw task.tags"
    )
    plain = client.get(f"/api/tasks/{submit(client).json()['task_id']}", params={"wait": 30}).json()
    assert plain["tags"] == {} and plain["result"] == {"tags": {}}


def test_batch_submits_carry_tags_and_the_listing_filters_by_tag(client: httpx.Client) -> None:
    body = {
        "tasks": [
            {"type": "steps", "data": {"steps": 0}, "tags": {"team": "red"}},
            {"type": "steps", "data": {"steps": 0}, "tags": {"team": "blue"}},
            {"type": "steps", "data": {"steps": 0}},
        ]
    }
    red, blue, _ = client.post("/queue/batch", json=body).json()["task_ids"]
    listed = client.get("/api/tasks", params={"tag": "team:red"}).json()["tasks"]
    assert [t["id"] for t in listed] == [red] and listed[0]["tags"] == {"team": "red"}
    assert [t["id"] for t in client.get("/api/tasks", params={"tag": "team:blue"}).json()["tasks"]] == [blue]
    assert client.get("/api/tasks", params={"tag": "team:green"}).json()["tasks"] == []
    assert client.get("/api/tasks", params={"tag": "no-colon"}).status_code == 400


@pytest.mark.parametrize(
    ("tags", "why"),
    [
        ({f"k{n}": "v" for n in range(defaults.MAX_TAGS + 1)}, "too many tags"),
        ({"k" * (defaults.MAX_TAG_KEY_LENGTH + 1): "v"}, "key too long"),
        ({"k": "v" * (defaults.MAX_TAG_VALUE_LENGTH + 1)}, "value too long"),
        ({"a:b": "v"}, "a colon in a key"),
        ({"a b": "v"}, "a space in a key"),
        ({"": "v"}, "an empty key"),
        ({"n": 1}, "a number value"),
        (["a"], "not an object"),
    ],
)
def test_tags_out_of_bounds_are_refused(client: httpx.Client, tags: Any, why: str) -> None:
    answer = submit(client, tags=tags)
    assert answer.status_code == 400, why
    assert "tags" in answer.text, why


def test_tags_at_the_bounds_are_accepted(client: httpx.Client) -> None:
    tags = {
        f"{n:0{defaults.MAX_TAG_KEY_LENGTH}d}": "v" * defaults.MAX_TAG_VALUE_LENGTH
        for n in range(defaults.MAX_TAGS)
    }
    answer = submit(client, tags=tags)
    assert answer.status_code == 200, answer.text
    assert client.get(f"/api/tasks/{answer.json()['task_id']}").json()["tags"] == tags
