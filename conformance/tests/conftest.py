"""Fixtures: the case suite, loaded once."""

from __future__ import annotations

import pytest

from taskdaemon_conformance.transcripts import Case, load_cases

from support import CASES_DIR


@pytest.fixture(scope="session")
def cases() -> list[Case]:
    return load_cases(CASES_DIR)


@pytest.fixture(scope="session")
def cases_by_id(cases: list[Case]) -> dict[str, Case]:
    return {case.id: case for case in cases}
