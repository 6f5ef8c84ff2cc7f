"""``taskdaemond new handler`` (``scaffold.py``): each language's project passes its own test out
of the box, answers a task over real pipes, and runs under the handlers.toml entry printed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from taskdaemon.testing import HandlerProcess, task

from taskdaemond import cli, scaffold

REPO = Path(__file__).resolve().parents[2]
SDKS = REPO / "sdks"
NAME = "greet.v1"
#: Seconds any one step (a test run, a build, a task) may take on a loaded machine.
STEP_TIMEOUT = 120
#: What each project's own test prints when its three tests pass.
PASSED = {
    "python": "3 passed",
    "ruby": "3 runs, 6 assertions, 0 failures, 0 errors",
    "typescript": "# pass 3",
    "go": "ok  \ttaskdaemon.local/handler\t",
}
GO_ENV = {"GOFLAGS": "-mod=mod", "GOPROXY": "off"}
#: What the printed entry needs beside it to find the SDK of the checkout (handlers get a clean
#: environment); TypeScript links it into node_modules, Go copies its runtime.
SDK_ENV = {
    "python": {"PYTHONPATH": str(SDKS / "python" / "src")},
    "ruby": {"RUBYLIB": str(SDKS / "ruby" / "lib")},
    "typescript": {},
    "go": {},
}


def new_handler(language: str, directory: Path, name: str = NAME) -> subprocess.CompletedProcess[str]:
    """Run the command as a user would, in a subprocess."""
    argv = [sys.executable, "-m", "taskdaemond", "new", "handler", name, "--language", language]
    argv += ["--dir", str(directory), "--sdk", str(SDKS / "typescript")]
    return subprocess.run(argv, capture_output=True, text=True, timeout=STEP_TIMEOUT, check=False)


def run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run a step of the project's own workflow; fail with its output if it fails."""
    done = subprocess.run(
        argv,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, f"{argv} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def own_test(language: str, project: Path) -> tuple[list[str], str]:
    """Run the project's own test as its README says; the command that serves it, and the output."""
    if language == "python":
        out = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], project)
        return [sys.executable, "-u", "handler.py"], out
    if language == "ruby":
        out = run(["ruby", "test/handler_test.rb"], project, SDK_ENV["ruby"])
        return ["ruby", "handler.rb"], out
    if language == "typescript":
        run(["npm", "install", "--offline", "--no-audit", "--no-fund"], project)
        return ["node", "handler.mjs"], run(["npm", "test"], project)
    out = run(["go", "test", "./..."], project, GO_ENV)
    run(["go", "build", "-o", "bin/handler", "."], project, GO_ENV)
    return [str(project / "bin" / "handler")], out


@pytest.mark.parametrize("language", list(scaffold.LANGUAGES))
def test_generated_project_passes_its_test_and_answers_a_task(language: str, tmp_path: Path) -> None:
    project = tmp_path / "greet"
    made = new_handler(language, project)
    assert made.returncode == 0, made.stderr
    for expected in ("README.md", "Containerfile", ".gitignore"):
        assert (project / expected).is_file(), expected
    assert "ARG BASE" in (project / "Containerfile").read_text()

    command, output = own_test(language, project)
    assert PASSED[language] in output, output

    # Given the handler started as a daemon starts it, with pipes on stdin and stdout,
    with HandlerProcess(command, cwd=project, env={**os.environ, **SDK_ENV[language]}) as handler:
        # when one task line is written,
        handler.send(task(NAME, {"name": "Ada"}, task_id="smoke-1"))
        result, events = handler.read_result(timeout=30)
        # then one success result comes back for that task, after its log and progress events.
        assert result == {"status": "success", "result": {"message": "Hello, Ada!"}, "task_id": "smoke-1"}
        assert [event["event"] for event in events] == ["log", "progress"]
        assert {event["task_id"] for event in events} == {"smoke-1"}
        handler.close_stdin()
        assert handler.wait(timeout=30) == 0


@pytest.mark.parametrize("language", list(scaffold.LANGUAGES))
def test_printed_entry_runs_the_handler_under_the_daemon(language: str, tmp_path: Path) -> None:
    project = tmp_path / "handlers" / "greet"
    made = new_handler(language, project)
    assert made.returncode == 0, made.stderr
    if language == "typescript":
        run(["npm", "install", "--offline", "--no-audit", "--no-fund"], project)
    elif language == "go":
        run(["go", "build", "-o", "bin/handler", "."], project, GO_ENV)
    entry = made.stdout.split("\n\n", 1)[1]
    parsed: dict[str, Any] = tomllib.loads(entry)["handlers"][NAME]
    assert Path(parsed["cwd"]) == project
    env = "".join(f"env.{key} = {json.dumps(value)}\n" for key, value in SDK_ENV[language].items())
    config = tmp_path / "handlers.toml"
    config.write_text(entry + env)
    argv = [sys.executable, "-m", "taskdaemond", "call", NAME, '{"name": "Ada"}', "--config", str(config)]
    answer = json.loads(run([*argv, "--json"], tmp_path))
    assert answer["outcome"]["status"] == "success", answer
    assert answer["outcome"]["result"] == {"message": "Hello, Ada!"}
    assert [event["message"] for event in answer["events"]] == ["greeting Ada", "greeted"]


def test_a_directory_in_use_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "greet").mkdir()
    (tmp_path / "greet" / "notes.txt").write_text("mine")
    with pytest.raises(SystemExit) as exited:
        cli.main(["new", "handler", "greet", "--language", "python", "--dir", str(tmp_path / "greet")])
    assert exited.value.code == 2
    assert "not an empty directory" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "greet").iterdir()) == ["notes.txt"]


def test_an_empty_directory_is_used(tmp_path: Path) -> None:
    (tmp_path / "greet").mkdir()
    written = scaffold.generate("greet", "ruby", tmp_path / "greet")
    assert tmp_path / "greet" / "handler.rb" in written


@pytest.mark.parametrize("name", ["", "bad name", "-dash", ".dot", "a/b", "x" * 129])
def test_a_name_that_is_not_a_task_type_is_refused(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["new", "handler", "--language", "go", "--dir", str(tmp_path / "out"), "--", name])
    assert exited.value.code == 2
    assert "is not a valid task type" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_go_runtime_is_a_copy_of_the_examples() -> None:
    """The Go project carries examples/go/taskdaemon's sources byte for byte (not its tests)."""
    examples = REPO / "examples" / "go" / "taskdaemon"
    copies = Path(scaffold.__file__).parent / "scaffold_templates" / "go" / "taskdaemon"
    expected = sorted(p.name for p in examples.glob("*.go") if not p.name.endswith("_test.go"))
    assert sorted(p.name for p in copies.iterdir()) == expected
    for name in expected:
        assert (copies / name).read_bytes() == (examples / name).read_bytes(), name


#: Cases in the conformance harness's format for the generated greeting (its own task type).
SCAFFOLD_CASES = {
    "description": "a generated handler, as the harness replays it",
    "cases": [
        {
            "id": "greeting-with-events",
            "description": "a task gets its log and progress events, then its result",
            "spec": "README.md#5-events",
            "input": [
                {"send": ""},
                {
                    "send_json": {
                        "task_id": "g1",
                        "task_type": NAME,
                        "task_data": {"name": "Ada"},
                        "attempt": 0,
                    }
                },
                {"close_stdin": True},
            ],
            "output": [
                {"event": "log", "task_id": "g1", "level": "info", "message": "greeting Ada"},
                {"event": "progress", "task_id": "g1", "progress": 1, "message": "greeted"},
                {"status": "success", "result": {"message": "Hello, Ada!"}, "task_id": "g1"},
            ],
            "exit_code": 0,
        },
        {
            "id": "malformed-then-serving",
            "description": "plain text gets an InvalidJSON error and the next task its answer",
            "spec": "README.md#8-malformed-task-lines",
            "input": [
                {"send": "not json"},
                {"send_json": {"task_id": "g2", "task_type": NAME, "task_data": {"name": 7}, "attempt": 0}},
                {"close_stdin": True},
            ],
            "output": [
                {
                    "status": "error",
                    "error": {"match": "any-string"},
                    "retryable": False,
                    "error_type": "InvalidJSON",
                },
                {
                    "status": "error",
                    "error": {"match": "any-string"},
                    "retryable": False,
                    "error_type": "InvalidInput",
                    "task_id": "g2",
                },
            ],
            "exit_code": 0,
        },
    ],
}


@pytest.mark.parametrize("language", list(scaffold.LANGUAGES))
def test_conformance_harness_passes_the_generated_handler(language: str, tmp_path: Path) -> None:
    project = tmp_path / "greet"
    assert new_handler(language, project).returncode == 0
    commands = {
        "python": f"{sys.executable} -u {project / 'handler.py'}",
        "ruby": f"ruby {project / 'handler.rb'}",
        "typescript": f"node {project / 'handler.mjs'}",
        "go": str(project / "bin" / "handler"),
    }
    if language == "typescript":
        run(["npm", "install", "--offline", "--no-audit", "--no-fund"], project)
    elif language == "go":
        run(["go", "build", "-o", "bin/handler", "."], project, GO_ENV)
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "scaffold.json").write_text(json.dumps(SCAFFOLD_CASES))
    harness = Path(sys.executable).parent / "taskdaemon-conformance"
    report = tmp_path / "report.jsonl"
    argv = [
        str(harness),
        "run",
        "--command",
        commands[language],
        "--cases",
        str(cases),
        "--report",
        str(report),
    ]
    run(argv, tmp_path, SDK_ENV[language])
    outcomes = [json.loads(line) for line in report.read_text().splitlines()]
    passed = {line["case"]: line["passed"] for line in outcomes if line["kind"] == "case"}
    assert passed == {"greeting-with-events": True, "malformed-then-serving": True}, outcomes
