"""Dramatiq with its Redis broker and the Results middleware (Redis): the echo actor."""

import os

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.results import Results
from dramatiq.results.backends.redis import RedisBackend

broker = RedisBroker(url=os.environ["BENCH_REDIS_URL"])
broker.add_middleware(Results(backend=RedisBackend(url=os.environ["BENCH_REDIS_URL"])))
dramatiq.set_broker(broker)


@dramatiq.actor(store_results=True, max_retries=0)
def echo(data: dict) -> dict:
    return data
