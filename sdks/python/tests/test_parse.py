"""parse_line: framing and the task checks, in-process (the pipe tests repeat them for real)."""

from __future__ import annotations

import pytest

from taskdaemon._parse import Malformed, parse_line, strip_line_end
from taskdaemon._task import Dependency, Task

TASK = b'{"task_id":"t","task_type":"k","task_data":{},"attempt":0}'


@pytest.mark.parametrize(
    ("raw", "stripped"),
    [
        (b"a\n", b"a"),
        (b"a\r\n", b"a"),
        (b"a\r\r\n", b"a\r"),
        (b"a", b"a"),
        (b"a\r", b"a"),
        (b"\n", b""),
    ],
)
def test_one_lf_and_one_cr_before_it_are_stripped(raw: bytes, stripped: bytes) -> None:
    assert strip_line_end(raw) == stripped


@pytest.mark.parametrize("raw", [b"\n", b"", b"  \t\r\n", b"\r\n", b"\t"])
def test_blank_lines_parse_to_nothing(raw: bytes) -> None:
    assert parse_line(raw) is None


@pytest.mark.parametrize("raw", [b"\x0c", b"\xc2\xa0"])
def test_other_whitespace_is_not_blank(raw: bytes) -> None:
    assert isinstance(parse_line(raw), Malformed)


def test_a_task_line_gives_a_task() -> None:
    assert parse_line(TASK + b"\r\n") == Task("t", "k", {}, 0)


def test_tags_are_read_and_absent_tags_are_empty() -> None:
    tagged = parse_line(b'{"task_id":"t","task_type":"k","task_data":{},"attempt":0,"tags":{"a":"b"}}')
    assert isinstance(tagged, Task)
    assert tagged.tags == {"a": "b"}
    plain = parse_line(TASK)
    assert isinstance(plain, Task)
    assert plain.tags == {}


def test_tags_that_are_not_strings_are_an_invalid_task_naming_the_tag() -> None:
    parsed = parse_line(b'{"task_id":"t","task_type":"k","task_data":{},"attempt":0,"tags":{"n":1}}')
    assert isinstance(parsed, Malformed)
    assert parsed.error.error_type == "InvalidTask"
    assert "tags['n'] must be a string" in parsed.error.error


def test_dependencies_are_read_and_absent_dependencies_are_empty() -> None:
    line = (
        b'{"task_id":"t","task_type":"k","task_data":{},"attempt":0,"dependencies":'
        b'{"load":{"task_id":"t1","task_type":"fetch","result":{"rows":42},"later":1},'
        b'"none":{"task_id":"t2","task_type":"quiet","result":null}}}'
    )
    parsed = parse_line(line)
    assert isinstance(parsed, Task)
    assert dict(parsed.dependencies) == {
        "load": Dependency("t1", "fetch", {"rows": 42}),
        "none": Dependency("t2", "quiet", None),
    }
    plain = parse_line(TASK)
    assert isinstance(plain, Task)
    assert dict(plain.dependencies) == {}


@pytest.mark.parametrize(
    ("dependencies", "message"),
    [
        (b"[]", "dependencies must be an object, got array"),
        (b"null", "dependencies must be an object, got null"),
        (b'{"load":"t1"}', "dependencies['load'] must be an object, got string"),
        (b'{"load":{"task_id":"t1","task_type":"f"}}', "dependencies['load'].result is missing"),
        (b'{"load":{"task_type":"f","result":1}}', "dependencies['load'].task_id is missing"),
        (
            b'{"load":{"task_id":5,"task_type":"f","result":1}}',
            "dependencies['load'].task_id must be a string, got integer",
        ),
        (
            b'{"load":{"task_id":"t1","task_type":"","result":1}}',
            "dependencies['load'].task_type must not be empty",
        ),
    ],
)
def test_malformed_dependencies_are_an_invalid_task_naming_the_field(
    dependencies: bytes, message: str
) -> None:
    line = b'{"task_id":"t","task_type":"k","task_data":{},"attempt":0,"dependencies":' + dependencies + b"}"
    parsed = parse_line(line)
    assert isinstance(parsed, Malformed)
    assert parsed.error.error_type == "InvalidTask"
    assert parsed.error.error == message
    assert parsed.task_id == "t"


def test_an_integral_float_attempt_is_accepted_as_an_integer() -> None:
    parsed = parse_line(b'{"task_id":"t","task_type":"k","task_data":{},"attempt":2.0}')
    assert isinstance(parsed, Task)
    assert parsed.attempt == 2
    assert type(parsed.attempt) is int


def test_a_huge_integer_is_invalid_json_not_a_crash() -> None:
    parsed = parse_line(b'{"task_id":"t","task_type":"k","task_data":{"n":' + b"9" * 5000 + b'},"attempt":0}')
    assert isinstance(parsed, Malformed)
    assert parsed.error.error_type == "InvalidJSON"


def test_deep_nesting_is_invalid_json_not_a_crash() -> None:
    parsed = parse_line(b"[" * 200_000 + b"]" * 200_000)
    assert isinstance(parsed, Malformed)
    assert parsed.error.error_type == "InvalidJSON"
    assert "nested too deeply" in parsed.error.error


def test_a_bom_is_invalid_json() -> None:
    parsed = parse_line(b"\xef\xbb\xbf" + TASK)
    assert isinstance(parsed, Malformed)
    assert parsed.error.error_type == "InvalidJSON"


def test_the_first_bad_field_is_named() -> None:
    parsed = parse_line(b'{"task_id":"t","task_type":1,"task_data":2,"attempt":"x"}')
    assert isinstance(parsed, Malformed)
    assert parsed.error.error == "task_type must be a string, got integer"
    assert parsed.task_id == "t"
    assert parsed.error.retryable is False
