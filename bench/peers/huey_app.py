"""Huey with its SQLite storage: the echo task."""

import os

from huey import SqliteHuey

huey = SqliteHuey("bench", filename=os.environ["BENCH_HUEY_DB"])


@huey.task()
def echo(data: dict) -> dict:
    return data
