"""The harness against the Python SDK's conformance handler: every case passes."""

from __future__ import annotations

import pytest

from taskdaemon_conformance.replay import run_case
from taskdaemon_conformance.transcripts import Case, load_cases

from support import CASES_DIR, python_handler


@pytest.mark.parametrize("case_id", [case.id for case in load_cases(CASES_DIR)])
def test_the_python_sdk_passes(cases_by_id: dict[str, Case], case_id: str) -> None:
    result = run_case(cases_by_id[case_id], python_handler())
    assert result.failure is None, f"{result.failure.reason}\n{result.failure.hint}" if result.failure else ""
