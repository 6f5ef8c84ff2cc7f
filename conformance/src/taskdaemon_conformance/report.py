"""The run's report: JSON lines (a header, a line per target x case, a footer) under report.schema.json.

The matrix printer (summary.py) reads only this data, so a report file can be summarised later.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from taskdaemon_conformance import __version__
from taskdaemon_conformance.replay import CaseResult, Target
from taskdaemon_conformance.schemas import validator


class ReportError(ValueError):
    """A report file is not valid; the message names the line and the problem."""


@dataclass(frozen=True)
class Failure:
    """A failure as stored in a report."""

    type: str
    message: str
    line: str | None
    hint: str

    @property
    def reason(self) -> str:
        """The one-line reason shown in the matrix."""
        return f"{self.type}: {self.message}"


@dataclass(frozen=True)
class Row:
    """One target x case outcome as stored in a report."""

    target: str
    case: str
    seconds: float
    failure: Failure | None

    @property
    def passed(self) -> bool:
        """True when the case passed."""
        return self.failure is None


@dataclass
class Report:
    """Everything a run produced."""

    started: str
    targets: list[tuple[str, list[str]]]
    cases: list[str]
    rows: list[Row] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> int:
        """How many target x case pairs failed."""
        return sum(not row.passed for row in self.rows)

    def add(self, result: CaseResult) -> None:
        """Record one case's result."""
        failure = result.failure
        stored = (
            None if failure is None else Failure(failure.kind, failure.message, failure.line, failure.hint)
        )
        self.rows.append(Row(result.target, result.case_id, round(result.seconds, 3), stored))

    def lines(self) -> list[dict[str, Any]]:
        """The report as JSON-lines documents."""
        header: dict[str, Any] = {
            "kind": "header",
            "version": 1,
            "harness": __version__,
            "started": self.started,
            "targets": [{"name": name, "argv": argv} for name, argv in self.targets],
            "cases": self.cases,
        }
        rows = [
            {
                "kind": "case",
                "target": row.target,
                "case": row.case,
                "passed": row.passed,
                "seconds": row.seconds,
                "failure": None
                if row.failure is None
                else {
                    "type": row.failure.type,
                    "message": row.failure.message,
                    "line": row.failure.line,
                    "hint": row.failure.hint,
                },
            }
            for row in self.rows
        ]
        footer = {
            "kind": "footer",
            "passed": len(self.rows) - self.failed,
            "failed": self.failed,
            "seconds": round(self.seconds, 3),
        }
        return [header, *rows, footer]

    def write(self, path: Path) -> None:
        """Write the report to `path` as JSON lines."""
        text = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in self.lines())
        path.write_text(text, encoding="utf-8")


def new_report(started: str, targets: list[Target], cases: list[str]) -> Report:
    """An empty report for a run of `cases` against `targets`."""
    return Report(started, [(target.name, list(target.argv)) for target in targets], cases)


def _check(document: Any, number: int, path: Path) -> dict[str, Any]:
    error = next(iter(validator("report.schema.json").iter_errors(document)), None)
    if error is not None or not isinstance(document, dict):
        message = error.message if error is not None else "not an object"
        raise ReportError(f"{path}:{number}: not a report line: {message}")
    return document


def read_report(path: Path) -> Report:
    """Read a report written by `Report.write`; ReportError naming the line when it is not valid."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"{path}: cannot read: {exc.strerror or exc}") from None
    documents: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            documents.append(_check(json.loads(line), number, path))
        except ValueError as exc:
            if isinstance(exc, ReportError):
                raise
            raise ReportError(f"{path}:{number}: not JSON: {exc}") from None
    if (
        len(documents) < len(("header", "footer"))
        or documents[0]["kind"] != "header"
        or documents[-1]["kind"] != "footer"
    ):
        raise ReportError(f"{path}: a report starts with a header line and ends with a footer line")
    header, footer = documents[0], documents[-1]
    report = Report(
        header["started"],
        [(target["name"], target["argv"]) for target in header["targets"]],
        header["cases"],
        seconds=footer["seconds"],
    )
    for number, document in enumerate(documents[1:-1], start=2):
        if document["kind"] != "case":
            raise ReportError(f"{path}:{number}: expected a case line, got {document['kind']!r}")
        failure = document["failure"]
        report.rows.append(
            Row(
                document["target"],
                document["case"],
                document["seconds"],
                None if failure is None else Failure(**failure),
            )
        )
    return report
