"""Run the measurements, in order, and draw the plots: `bench/run.sh [--quick|--full] [NAME...]`.

Names: sdk_loop, throughput (includes durability: the SQLite queue against the memory queue),
latency, payload, footprint. With no names, all of them. Each writes bench/results/<name>.json
and prints its table; the plots (bench/results/<name>.png) are drawn from the JSON files at the
end, so a partial run redraws what it measured beside what an earlier run left.
"""

from __future__ import annotations

import argparse
import time

import footprint
import latency
import payload
import plots
import sdk_loop
import throughput
from common import MODES

MEASUREMENTS = {
    "sdk_loop": sdk_loop.run,
    "throughput": throughput.run,
    "latency": latency.run,
    "payload": payload.run,
    "footprint": footprint.run,
}
ALIASES = {"durability": "throughput"}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--quick", dest="mode", action="store_const", const="quick", help="under 5 minutes (default)"
    )
    group.add_argument(
        "--full", dest="mode", action="store_const", const="full", help="for publishing (longer)"
    )
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help=f"any of: {', '.join([*MEASUREMENTS, *ALIASES])}"
    )
    args = parser.parse_args()
    mode = MODES[args.mode or "quick"]
    names = [ALIASES.get(name, name) for name in args.names] or list(MEASUREMENTS)
    unknown = [name for name in names if name not in MEASUREMENTS]
    if unknown:
        parser.error(
            f"unknown measurement {', '.join(unknown)}; choose from {', '.join([*MEASUREMENTS, *ALIASES])}"
        )
    started = time.monotonic()
    print(f"bench: {mode.name} mode: {', '.join(dict.fromkeys(names))}", flush=True)
    for name in dict.fromkeys(names):
        began = time.monotonic()
        MEASUREMENTS[name](mode)
        print(f"  ({name}: {time.monotonic() - began:.0f} s)", flush=True)
    for path in plots.draw_all():
        print(f"bench: plot {path}")
    print(f"bench: done in {time.monotonic() - started:.0f} s; results in bench/results/", flush=True)


if __name__ == "__main__":
    main()
