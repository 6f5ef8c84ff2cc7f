"""Result lines are the standard library's compact JSON, whatever path the encoder takes."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from taskdaemon._encode import _LONG_STRING, dumps_line


def standard_line(message: dict[str, Any]) -> bytes:
    return (json.dumps(message, ensure_ascii=False, allow_nan=False, separators=(",", ":")) + "\n").encode()


# Strings past the bulk-check length: a short text repeated, so escapes and non-ASCII text
# land in long strings as often as in short ones.
long_strings = st.text(min_size=1, max_size=6).map(lambda part: part * (_LONG_STRING // len(part) + 1))

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | long_strings,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)


@given(st.dictionaries(st.text(max_size=6) | long_strings, json_values, max_size=4))
def test_a_line_is_the_standard_compact_json(message: dict[str, Any]) -> None:
    assert dumps_line(message) == standard_line(message)


@pytest.mark.parametrize(
    "text",
    [
        "x" * _LONG_STRING,
        "x" * (_LONG_STRING - 1) + '"',
        "\\" + "x" * _LONG_STRING,
        "x" * _LONG_STRING + "\n",
        "x" * _LONG_STRING + "\x1f",
        "x" * _LONG_STRING + "\x7f",
        "é" * _LONG_STRING,
    ],
    ids=["plain", "quote", "backslash", "newline", "control", "delete", "non-ascii"],
)
def test_a_long_string_is_escaped_as_the_standard_encoder_escapes_it(text: str) -> None:
    line = dumps_line({"result": text})
    assert line == standard_line({"result": text})
    assert json.loads(line) == {"result": text}


def test_a_circular_value_is_refused_and_the_next_line_still_encodes() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular reference"):
        dumps_line({"result": loop})
    shared = [1]
    assert dumps_line({"a": shared, "b": shared}) == b'{"a":[1],"b":[1]}\n'


def test_nan_and_lone_surrogates_are_refused() -> None:
    with pytest.raises(ValueError, match="not JSON compliant"):
        dumps_line({"result": math.nan})
    with pytest.raises(UnicodeEncodeError):
        dumps_line({"result": "\ud800" + "x" * _LONG_STRING})
