"""schemathesis against a live daemon, with and without a token: no 5xx, every answer's status
code documented for its operation, every body valid against the document (examples, coverage,
fuzzing and the stateful phase, which follows the links from a submit to its task)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import handler_table

SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")
CHECKS = "not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance"
#: Per operation and phase: enough to reach every status, small enough for ~30 s a run on 2 cores.
EXAMPLES = 10
#: A long poll up to 300 s is valid input; schemathesis would wait it out. ?wait's range is
#: tested in test_hostile_input.py.
CONFIG = '[parameters]\n"query.wait" = 0.5\n'


@pytest.mark.parametrize("token", [None, "st-token"], ids=["open", "token"])
def test_the_api_answers_as_its_openapi_document_says(
    daemon_factory: Any, tmp_path: Path, token: str | None
) -> None:
    daemon = daemon_factory(
        {"echo": handler_table("behave", instances=1), "other": handler_table("behave", instances=1)},
        {"shutdown_grace": 1, **({"token": token} if token else {})},
    )
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    command = [
        SCHEMATHESIS,
        "--config-file",
        str(config),
        "run",
        f"{daemon.url}/openapi.json",
        "--checks",
        CHECKS + (",ignored_auth" if token else ""),
        "--max-examples",
        str(EXAMPLES),
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--seed",
        "14",
        "--workers",
        "1",
        "--request-timeout",
        "20",
        # Live event streams never end: they are not request/response operations.
        "--exclude-tag",
        "events",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path / "report"),
    ]
    if token:
        command += ["--header", f"Authorization: Bearer {token}"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=150, check=False, cwd=tmp_path)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-6000:]
    assert "Stateful" in output and "API Links" in output, output[-3000:]
    assert daemon.process.poll() is None
    assert "Traceback" not in daemon.log(), daemon.log()[-3000:]
