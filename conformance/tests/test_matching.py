"""Expected and actual messages compare as JSON values, with matchers where languages differ."""

from __future__ import annotations

from taskdaemon_conformance.matching import difference, message_difference


def test_equal_messages_have_no_difference() -> None:
    message = {"status": "success", "result": {"a": [1, "x", None, True]}, "task_id": "t"}
    assert difference(message, dict(message)) is None


def test_numbers_compare_by_value_but_booleans_are_not_numbers() -> None:
    assert difference({"n": 1}, {"n": 1.0}) is None
    assert difference({"n": 1}, {"n": True}) == "n: expected 1, got True"
    assert difference({"n": False}, {"n": 0}) == "n: expected False, got 0"


def test_a_wrong_task_id_is_named() -> None:
    found = difference(
        {"status": "success", "result": 1, "task_id": "a"}, {"status": "success", "result": 1, "task_id": "b"}
    )
    assert found == "task_id: expected 'a', got 'b'"


def test_an_unexpected_protocol_member_is_a_difference_and_an_unknown_one_is_not() -> None:
    expected = {"status": "success", "result": 1}
    assert difference(expected, {**expected, "metadata": {}}) == "metadata: not expected, got {}"
    assert difference(expected, {**expected, "x_extension": 1}) is None


def test_nested_objects_must_match_exactly() -> None:
    assert difference({"r": {"a": 1}}, {"r": {"a": 1, "b": 2}}) == "r.b: not expected, got 2"
    assert difference({"r": [1, 2]}, {"r": [1]}) == "r: expected 2 items, got 1"


def test_matchers_stand_for_values_that_differ_between_languages() -> None:
    assert difference({"t": {"match": "any-string"}}, {"t": "Traceback ..."}) is None
    assert difference({"t": {"match": "any-string"}}, {"t": 3}) == "t: expected a string, got 3"
    assert difference({"e": {"match": "regex", "pattern": "^result is"}}, {"e": "result is bad"}) is None
    assert (
        difference({"e": {"match": "regex", "pattern": "^result is"}}, {"e": "oops"})
        == "e: 'oops' does not match /^result is/"
    )
    assert difference({"x": {"match": "any"}}, {"x": [1]}) is None
    assert difference({"x": {"match": "any"}}, {}) == "x: missing"


def test_retryable_false_may_be_left_out_and_true_may_not() -> None:
    written = {"status": "error", "error": "bad", "task_id": "t"}
    assert message_difference({**written, "retryable": False}, written) is None
    assert message_difference(written, {**written, "retryable": False}) is None
    assert (
        message_difference({**written, "retryable": True}, written) == "retryable: expected True, got False"
    )


def test_defaults_apply_to_error_results_only_and_a_missing_task_id_is_named() -> None:
    success = {"status": "success", "result": 1, "task_id": "t"}
    assert (
        message_difference(success, {**success, "retryable": False}) == "retryable: not expected, got False"
    )
    assert message_difference(success, {"status": "success", "result": 1}) == "task_id: missing"
    assert (
        message_difference({"status": "error", "error": "x", "retryable": False}, success)
        == "status: expected 'error', got 'success'"
    )
