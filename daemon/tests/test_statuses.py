"""Statuses and the listing's status filter (``statuses.py``)."""

from __future__ import annotations

from taskdaemond.cli import build_parser
from taskdaemond.statuses import STATUS_ALIASES, StatusFilter, TaskStatus


def test_every_status_can_be_filtered_on_by_its_own_name() -> None:
    for status in TaskStatus:
        assert StatusFilter(status.value).status is status


def test_the_aliases_name_processing_and_completed() -> None:
    assert StatusFilter("running").status is TaskStatus.PROCESSING
    assert StatusFilter("success").status is TaskStatus.COMPLETED
    assert {f.value for f in StatusFilter} == {s.value for s in TaskStatus} | set(STATUS_ALIASES)


def test_the_cli_listing_takes_the_aliases() -> None:
    assert build_parser().parse_args(["tasks", "--status", "running"]).status == "running"
