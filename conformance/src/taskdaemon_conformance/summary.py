"""Render a report as a case x target matrix, with a one-line reason under it for each failure."""

from __future__ import annotations

from taskdaemon_conformance.report import Report

PASS = "pass"  # noqa: S105 - a matrix cell, not a password
FAIL = "FAIL"
MISSING = "-"


def render(report: Report) -> str:
    """The matrix (rows: cases, columns: targets), the failures' reasons and the totals."""
    targets = [name for name, _argv in report.targets]
    outcome = {(row.target, row.case): row for row in report.rows}
    case_width = max([len("case"), *(len(case) for case in report.cases)])
    widths = [max(len(name), len(FAIL)) for name in targets]
    lines = [
        "  ".join(["case".ljust(case_width), *(n.ljust(w) for n, w in zip(targets, widths, strict=True))])
    ]
    lines.append("  ".join(["-" * case_width, *("-" * w for w in widths)]))
    for case in report.cases:
        cells = []
        for name, width in zip(targets, widths, strict=True):
            row = outcome.get((name, case))
            cell = MISSING if row is None else PASS if row.passed else FAIL
            cells.append(cell.ljust(width))
        lines.append("  ".join([case.ljust(case_width), *cells]).rstrip())
    failures = [row for row in report.rows if row.failure is not None]
    if failures:
        lines.append("")
        lines.append("failures:")
        lines.extend(f"  {row.target} / {row.case}: {row.failure.reason}" for row in failures if row.failure)
    lines.append("")
    totals = []
    for name in targets:
        rows = [row for row in report.rows if row.target == name]
        passed = sum(row.passed for row in rows)
        totals.append(f"{name} {passed}/{len(rows)}")
    lines.append(
        f"{len(report.rows) - report.failed} passed, {report.failed} failed "
        f"({', '.join(totals)}) in {report.seconds:.1f} s"
    )
    return "\n".join(lines)
