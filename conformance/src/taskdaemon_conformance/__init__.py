"""Replay recorded TaskDaemon protocol transcripts against handlers and report an SDK x case matrix.

- `transcripts`: load and check the cases (conformance/cases/*.json, format: transcript.schema.json).
- `replay`: run one case against one handler command over real pipes and judge the outcome.
- `report` / `summary`: the JSON-lines report and the matrix printed from it.
- `cli`: the `taskdaemon-conformance` command (run, summary, record).
"""

from __future__ import annotations

__version__ = "0.1.0"
