"""RQ: the echo job (RQ imports jobs by dotted name)."""


def echo(data: dict) -> dict:
    return data
