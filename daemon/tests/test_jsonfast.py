"""The hot-path JSON helpers agree with standard JSON, beyond orjson's limits too."""

import json

import pytest

from taskdaemond import jsonfast


def test_round_trip_of_ordinary_values() -> None:
    value = {"a": [1, 2.5, None, True, "é"], "b": {"c": "d"}}
    assert jsonfast.loads(jsonfast.dumps(value)) == value
    assert json.loads(jsonfast.dumps(value)) == value


def test_integers_beyond_64_bits_are_kept() -> None:
    big = 2**70
    assert jsonfast.dumps({"n": big}) == '{"n":1180591620717411303424}'
    assert jsonfast.loads(b'{"n": 1180591620717411303424}') == {"n": big}


def test_text_that_is_not_json_raises_value_error() -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - any ValueError: the caller treats it as output
        jsonfast.loads(b"{broken")
