"""The command line: run writes a report, summary prints the matrix from it, record writes a case."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from taskdaemon_conformance.cli import main
from taskdaemon_conformance.replay import Target, run_case
from taskdaemon_conformance.report import ReportError, read_report
from taskdaemon_conformance.schemas import validator
from taskdaemon_conformance.targets import default_cases_dir, engine_argv, image_name, sdk_target
from taskdaemon_conformance.transcripts import load_cases, load_file

from support import BROKEN, CASES_DIR, CONFORMANCE

PYTHON_HANDLER = (
    f"{shlex.quote(sys.executable)} -u {shlex.quote(str(CONFORMANCE / 'handlers' / 'python' / 'handler.py'))}"
)
WRONG_ID = f"sh {shlex.quote(str(BROKEN / 'wrong_id.sh'))}"


def test_a_passing_run_exits_0_and_writes_a_valid_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report_path = tmp_path / "report.json"
    status = main(
        [
            "run",
            "--command",
            PYTHON_HANDLER,
            "--case",
            "echo-object",
            "--case",
            "eof-without-tasks",
            "--report",
            str(report_path),
        ]
    )
    assert status == 0
    lines = [json.loads(line) for line in report_path.read_text(encoding="utf-8").splitlines()]
    assert [line["kind"] for line in lines] == ["header", "case", "case", "footer"]
    for line in lines:
        assert list(validator("report.schema.json").iter_errors(line)) == []
    assert lines[-1]["passed"] == 2
    assert "2 passed, 0 failed" in capsys.readouterr().out


def test_a_failing_run_exits_1_and_summary_prints_the_same_matrix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report_path = tmp_path / "report.json"
    status = main(["run", "--command", WRONG_ID, "--case", "echo-object", "--report", str(report_path)])
    printed_by_run = capsys.readouterr().out
    assert status == 1
    assert main(["summary", str(report_path)]) == 1
    printed_by_summary = capsys.readouterr().out
    assert printed_by_summary == printed_by_run
    assert "echo-object  FAIL" in printed_by_summary
    assert "Mismatch: message 1 of 1: task_id: expected 'e1', got 'not-e1'" in printed_by_summary


def test_a_report_round_trips(tmp_path: Path) -> None:
    report_path = tmp_path / "report.json"
    main(
        [
            "run",
            "--command",
            WRONG_ID,
            "--case",
            "echo-object",
            "--case",
            "result-null",
            "--report",
            str(report_path),
        ]
    )
    report = read_report(report_path)
    copy = tmp_path / "copy.json"
    report.write(copy)
    assert copy.read_text(encoding="utf-8") == report_path.read_text(encoding="utf-8")
    assert [(row.case, row.passed) for row in report.rows] == [("echo-object", False), ("result-null", False)]


def test_a_broken_report_is_refused_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    path.write_text('{"kind": "header"}\n', encoding="utf-8")
    with pytest.raises(ReportError, match=r"report\.json:1: not a report line"):
        read_report(path)


def test_usage_errors_exit_2_naming_the_problem(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--command", WRONG_ID, "--case", "no-such-case"]) == 2
    assert "unknown case id(s): no-such-case" in capsys.readouterr().err
    assert main(["run", "--command", WRONG_ID, "--engine", "podman"]) == 2
    assert "--engine goes with --sdk or --image" in capsys.readouterr().err


def test_list_prints_every_case_with_its_id_and_description(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    printed = capsys.readouterr().out
    cases = load_cases(CASES_DIR)
    for case in cases:
        line = next(line for line in printed.splitlines() if line.split()[:1] == [case.id])
        assert line.endswith(case.description)
    assert "framing.json: " in printed
    assert printed.rstrip().endswith(f"{len(cases)} cases in {len(list(CASES_DIR.glob('*.json')))} files")


def test_checkout_must_be_a_checkout_and_goes_with_sdk(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--sdk", "python", "--checkout", str(tmp_path)]) == 2
    assert f"--checkout {tmp_path}: no conformance/handlers/ there" in capsys.readouterr().err
    assert main(["run", "--command", WRONG_ID, "--checkout", str(CONFORMANCE.parent)]) == 2
    assert "--checkout goes with --sdk" in capsys.readouterr().err


def test_an_editable_install_reads_the_checkouts_cases() -> None:
    assert default_cases_dir() == CASES_DIR


def test_the_engine_option_runs_the_sdk_image() -> None:
    target = sdk_target("ruby", engine="podman")
    assert target.argv == (
        "podman",
        "run",
        "-i",
        "--rm",
        "--network=none",
        "localhost/taskdaemon-conformance-ruby:dev",
    )
    assert engine_argv("docker", image_name("python")) == (
        "docker",
        "run",
        "-i",
        "--rm",
        "--network=none",
        "localhost/taskdaemon-conformance-python:dev",
    )


def test_record_writes_a_case_that_then_passes(tmp_path: Path) -> None:
    lines = tmp_path / "lines.txt"
    lines.write_bytes(
        b'{"task_id":"r1","task_type":"echo","task_data":{"a":1},"attempt":0}\n'
        b"\n"
        b'{"task_id":"r2","task_type":"raise","task_data":{"message":"boom"},"attempt":0}\n'
        b"\xff not utf-8\n"
    )
    out = tmp_path / "recorded.json"
    status = main(
        [
            "record",
            "--command",
            PYTHON_HANDLER,
            "--in",
            str(lines),
            "--id",
            "recorded-echo",
            "--out",
            str(out),
        ]
    )
    assert status == 0
    (case,) = load_file(out)
    assert case.id == "recorded-echo"
    assert [m.get("task_id") for m in case.expected] == ["r1", "r2", None]
    assert case.expected[1]["traceback"] == {"match": "any-string"}
    python = Target("python", tuple(shlex.split(PYTHON_HANDLER)))
    assert run_case(case, python).failure is None


def test_record_replays_a_case_files_input(tmp_path: Path) -> None:
    out = tmp_path / "recorded.json"
    source = CASES_DIR / "results.json"
    status = main(
        [
            "record",
            "--command",
            PYTHON_HANDLER,
            "--case-file",
            str(source),
            "--case",
            "attempt-passthrough",
            "--out",
            str(out),
        ]
    )
    assert status == 0
    (case,) = load_file(out)
    assert case.expected == (
        {"status": "success", "result": 0, "task_id": "a0"},
        {"status": "success", "result": 1, "task_id": "a1"},
        {"status": "success", "result": 7, "task_id": "a7"},
    )


def test_list_into_a_reader_that_has_gone_ends_quietly() -> None:
    """`taskdaemon-conformance list | head -1`: no BrokenPipe traceback. The reader is gone
    before the command writes, so every write meets a closed pipe, whatever the timing."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        lister = subprocess.run(
            [
                sys.executable,
                "-c",
                "from taskdaemon_conformance.cli import main; raise SystemExit(main(['list']))",
            ],
            stdout=write_end,
            stderr=subprocess.PIPE,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    errors = lister.stderr.decode()
    assert "Traceback" not in errors, errors
    assert lister.returncode == 1
