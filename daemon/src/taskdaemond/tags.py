"""Task tags: the submitter's labels (string to string), and the ``key:value`` filter on them."""

from __future__ import annotations

#: A tag filter as the API, the CLI and the dashboard take it: ``key:value`` (the value may be
#: empty and may hold ":"; the key may not).
TAG_FILTER_PATTERN = r"^[^:\s]+:.*$"


def parse_tag_filter(text: str) -> tuple[str, str]:
    """``key:value`` as (key, value); raises ValueError saying what is expected."""
    key, colon, value = text.partition(":")
    if not colon or not key or any(c.isspace() for c in key):
        raise ValueError(f"tag filter {text!r} is not key:value")
    return key, value


def parse_tag_assignment(text: str) -> tuple[str, str]:
    """``key=value`` (the CLI's --tag at submit) as (key, value); raises ValueError."""
    key, equals, value = text.partition("=")
    if not equals or not key:
        raise ValueError(f"tag {text!r} is not key=value")
    return key, value
