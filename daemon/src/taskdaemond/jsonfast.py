"""JSON on the hot path (every result line, every stored result): orjson, with the stdlib as the
fallback for what orjson refuses but standard JSON allows (integers beyond 64 bits).

Why: a profile of bench/daemon_quick.py showed stdlib json at about a sixth of the daemon's
main-thread time per task. The JSON itself stays standard.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import pydantic_core


def loads(data: bytes | str) -> Any:
    """Parse one JSON document; ValueError if it is not one.

    pydantic-core's parser first (the one FastAPI's request bodies already go through): it
    reads a long string 5-15 times faster than orjson (16 MiB: 2-3 ms against 17-44 ms) and
    keeps integers beyond 64 bits. What it refuses (nesting beyond 200 levels, a lone surrogate
    escape) goes on to orjson, then the stdlib, as before."""
    try:
        return pydantic_core.from_json(data, allow_inf_nan=False)
    except ValueError:
        pass
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)  # raises ValueError itself when the text is not JSON


def dumps(value: Any) -> str:
    """Compact JSON text of ``value``."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # e.g. an integer beyond 64 bits
        return json.dumps(value, separators=(",", ":"))


def dumps_bytes(value: Any) -> bytes:
    """Compact JSON of ``value`` as UTF-8 bytes: for an HTTP body, no str in between (a task
    record holds its data and its result, up to twice 64 MiB)."""
    try:
        return orjson.dumps(value)
    except TypeError:  # e.g. an integer beyond 64 bits
        return json.dumps(value, separators=(",", ":")).encode()
