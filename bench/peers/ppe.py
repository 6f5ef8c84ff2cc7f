"""concurrent.futures.ProcessPoolExecutor: the no-queue ceiling (the echo function)."""


def echo(data: dict) -> dict:
    return data
