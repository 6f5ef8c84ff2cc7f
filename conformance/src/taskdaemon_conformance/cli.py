"""The `taskdaemon-conformance` command: run or list the cases, summarise a report, record a case."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from taskdaemon_conformance import __version__
from taskdaemon_conformance.exceptions import CaseFailed
from taskdaemon_conformance.matrix import default_jobs, run_matrix
from taskdaemon_conformance.record import input_from_case_file, record, steps_from_lines
from taskdaemon_conformance.replay import Target
from taskdaemon_conformance.report import ReportError, new_report, read_report
from taskdaemon_conformance.summary import render
from taskdaemon_conformance.targets import (
    ENGINES,
    SDKS,
    TargetError,
    command_target,
    default_cases_dir,
    image_target,
    resolve_checkout,
    sdk_target,
    sdk_target_or_unavailable,
)
from taskdaemon_conformance.transcripts import (
    DEFAULT_TIME_LIMIT_MS,
    TranscriptError,
    load_cases,
    load_files,
    select,
)

#: Exit status when the command itself is used wrongly (bad option, missing file).
USAGE_ERROR = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="taskdaemon-conformance",
        description="Replay TaskDaemon protocol transcripts against handlers; report an SDK x case matrix.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the cases against handlers and print the matrix")
    which = run.add_mutually_exclusive_group(required=True)
    which.add_argument("--sdk", choices=[*SDKS, "all"], help="a bundled SDK's conformance handler")
    which.add_argument(
        "--command", dest="handler_command", help='a handler command line, e.g. "my-handler --flag"'
    )
    which.add_argument("--image", help="a handler image, run with --engine (default podman)")
    run.add_argument(
        "--engine", choices=ENGINES, help="run the handlers as container images with this engine"
    )
    run.add_argument(
        "--jobs",
        "-j",
        type=int,
        metavar="N",
        help="run N cases at once (default: 1 for local processes, 4 with --engine: container start-up "
        "is partly waiting on the engine)",
    )
    run.add_argument("--case", action="append", default=[], metavar="ID", help="only this case (repeatable)")
    run.add_argument(
        "--cases", type=Path, help="a case directory (default: the cases shipped with the harness)"
    )
    run.add_argument(
        "--checkout",
        type=Path,
        metavar="DIR",
        help="with --sdk: the TaskDaemon checkout whose SDK handlers to run (default: the one this "
        "harness is installed from)",
    )
    run.add_argument("--report", type=Path, help="write the report (JSON lines) to this file")
    run.add_argument(
        "--timeout-factor",
        type=float,
        default=1.0,
        help="scale every case's time limit (e.g. 3 on a slow machine or for images)",
    )

    listing = commands.add_parser("list", help="print the cases: file, id and description")
    listing.add_argument(
        "--cases", type=Path, help="a case directory (default: the cases shipped with the harness)"
    )

    summary = commands.add_parser("summary", help="print the matrix of a report written by run --report")
    summary.add_argument("report", type=Path)

    rec = commands.add_parser("record", help="run a handler on input and write a case for review")
    rec.add_argument("--command", dest="handler_command", required=True, help="the handler command line")
    source = rec.add_mutually_exclusive_group(required=True)
    source.add_argument("--in", dest="lines", type=Path, help="a file of input lines, sent as is, then EOF")
    source.add_argument("--case-file", type=Path, help="a transcript file whose case input is replayed")
    rec.add_argument("--case", dest="case_id", help="with --case-file: which case (default: the first)")
    rec.add_argument("--id", dest="new_id", help="the recorded case's id (default: recorded, or the case's)")
    rec.add_argument("--description", help="the recorded case's description")
    rec.add_argument("--time-limit-ms", type=int, default=DEFAULT_TIME_LIMIT_MS)
    rec.add_argument("--out", type=Path, required=True, help="where to write the transcript file")
    return parser


def _targets(args: argparse.Namespace) -> list[Target]:
    if args.checkout is not None and args.sdk is None:
        raise TargetError("--checkout goes with --sdk")
    if args.sdk is not None:
        checkout = None if args.engine is not None else resolve_checkout(args.checkout)
        if args.sdk == "all":  # an SDK that is not set up gets a failing column, the others still run
            return [sdk_target_or_unavailable(name, args.engine, checkout) for name in SDKS]
        return [sdk_target(args.sdk, args.engine, checkout)]
    if args.image is not None:
        return [image_target(args.engine or "podman", args.image)]
    if args.engine is not None:
        raise TargetError("--engine goes with --sdk or --image, not --command")
    return [command_target(args.handler_command)]


def _run(args: argparse.Namespace) -> int:
    if args.timeout_factor <= 0:
        raise TargetError(f"--timeout-factor must be positive, got {args.timeout_factor}")
    jobs = default_jobs(args.engine) if args.jobs is None else args.jobs
    if jobs < 1:
        raise TargetError(f"--jobs must be at least 1, got {jobs}")
    cases = load_cases(args.cases or default_cases_dir())
    if args.case:
        cases = select(cases, args.case)
    targets = _targets(args)
    started = time.monotonic()
    report = new_report(datetime.now(UTC).isoformat(timespec="seconds"), targets, [c.id for c in cases])
    results = run_matrix(targets, cases, jobs=jobs, timeout_factor=args.timeout_factor)
    for index, result in enumerate(results, start=1):
        report.add(result)
        mark = "." if result.passed else "F"
        print(mark, end="", file=sys.stderr, flush=True)
        if index % len(cases) == 0:
            print(f" {result.target}", file=sys.stderr, flush=True)
    # Rounded as the report file stores it, so that `summary` of the file prints the same line.
    report.seconds = round(time.monotonic() - started, 3)
    if args.report is not None:
        report.write(args.report)
    print(render(report))
    return 1 if report.failed else 0


def _list(args: argparse.Namespace) -> int:
    files = load_files(args.cases or default_cases_dir())
    width = max(len(case.id) for _topic, cases in files for case in cases)
    for index, (topic, cases) in enumerate(files):
        if index:
            print()
        print(f"{cases[0].source.name}: {topic}")
        for case in cases:
            print(f"  {case.id.ljust(width)}  {case.description}")
    print(f"\n{sum(len(cases) for _topic, cases in files)} cases in {len(files)} files")
    return 0


def _summary(args: argparse.Namespace) -> int:
    report = read_report(args.report)
    print(render(report))
    return 1 if report.failed else 0


def _record(args: argparse.Namespace) -> int:
    if args.lines is not None:
        try:
            data = args.lines.read_bytes()
        except OSError as exc:
            raise TranscriptError(f"{args.lines}: cannot read: {exc.strerror or exc}") from None
        steps, case_id, description = (
            steps_from_lines(data),
            "recorded",
            "the handler answers the recorded lines",
        )
    else:
        steps, case_id, description = input_from_case_file(args.case_file, args.case_id)
    document = record(
        command_target(args.handler_command),
        steps,
        case_id=args.new_id or case_id,
        description=args.description or description,
        time_limit_ms=args.time_limit_ms,
    )
    args.out.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out}: {len(document['cases'][0]['output'])} message(s); review it before use")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; return its exit status (0 all passed, 1 a case failed, 2 bad usage)."""
    args = _parser().parse_args(argv)
    handlers = {"run": _run, "list": _list, "summary": _summary, "record": _record}
    try:
        return handlers[args.command](args)
    except (TargetError, TranscriptError, ReportError) as exc:
        print(f"taskdaemon-conformance: error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except CaseFailed as exc:
        print(f"taskdaemon-conformance: {exc.reason}\n  {exc.hint}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (`list | head`): stop quietly, as other command-line tools do;
        # stdout goes to /dev/null so that the interpreter's final flush cannot fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
