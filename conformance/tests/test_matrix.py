"""Running the matrix several cases at a time gives the report one case at a time gives."""

from __future__ import annotations

from typing import TYPE_CHECKING

from taskdaemon_conformance.cli import main
from taskdaemon_conformance.matrix import ENGINE_JOBS, PROCESS_JOBS, default_jobs, run_matrix
from taskdaemon_conformance.transcripts import load_cases, select

from support import CASES_DIR, broken, python_handler

if TYPE_CHECKING:
    import pytest

CASE_IDS = ["echo-object", "eof-without-tasks", "tasks-answered-in-order", "blank-lines-skipped"]
CASES = select(load_cases(CASES_DIR), CASE_IDS)


def verdicts(jobs: int) -> list[tuple[str, str, str | None]]:
    targets = [python_handler(), broken("wrong_id"), broken("exits_at_once")]
    return [
        (result.target, result.case_id, None if result.failure is None else result.failure.kind)
        for result in run_matrix(targets, CASES, jobs=jobs)
    ]


def test_results_come_in_matrix_order_with_the_same_verdicts_whatever_the_jobs() -> None:
    one_at_a_time = verdicts(1)
    assert [(target, case) for target, case, _ in one_at_a_time] == [
        (target, case.id) for target in ("python", "wrong_id", "exits_at_once") for case in CASES
    ]
    assert verdicts(4) == one_at_a_time
    assert {failure for target, _, failure in one_at_a_time if target == "python"} == {None}
    assert {failure for target, _, failure in one_at_a_time if target != "python"} != {None}


def test_processes_run_one_at_a_time_and_images_several_by_default() -> None:
    assert default_jobs(None) == PROCESS_JOBS == 1
    assert default_jobs("podman") == ENGINE_JOBS > 1


def test_jobs_below_one_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--sdk", "python", "--case", "echo-object", "--jobs", "0"]) == 2
    assert "--jobs must be at least 1, got 0" in capsys.readouterr().err
