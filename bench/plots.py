"""Draw bench/results/<name>.png from bench/results/<name>.json (matplotlib, no display needed)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib as mpl

mpl.use("Agg")
import matplotlib.pyplot as plt

from common import MIB, RESULTS

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def bars(ax: Axes, groups: list[str], series: dict[str, list[dict[str, Any] | None]], ylabel: str) -> None:
    """Grouped bars at the medians, with min-max whiskers; None leaves a gap."""
    width = 0.8 / max(1, len(series))
    for i, (name, stats) in enumerate(series.items()):
        xs, heights, low, high = [], [], [], []
        for g, s in enumerate(stats):
            if s is None:
                continue
            xs.append(g + (i - (len(series) - 1) / 2) * width)
            heights.append(s["median"])
            low.append(s["median"] - s["min"])
            high.append(s["max"] - s["median"])
        ax.bar(xs, heights, width, label=name, yerr=[low, high], capsize=2)
    ax.set_xticks(range(len(groups)), groups)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize="small")
    ax.grid(axis="y", alpha=0.3)


def caption(fig: Any, data: dict[str, Any]) -> None:
    machine = data.get("machine", {})
    fig.text(
        0.99,
        0.01,
        f"{data.get('mode', '')} run, {machine.get('when', '')}, {machine.get('cpus', '?')} CPUs",
        ha="right",
        va="bottom",
        fontsize=7,
        color="grey",
    )


def sdk_loop(data: dict[str, Any]) -> Any:
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    languages = list(data["languages"])
    names = {"sdk": "SDK echo handler", "raw": "raw loop, no SDK", "pipe": "pipe echo"}
    for ax, way, title in zip(
        axes, ("ping_pong", "streamed"), ("one task in flight (as the daemon)", "pipe kept full"), strict=True
    ):
        entries = [data["languages"][lang][way] for lang in languages]
        bars(
            ax,
            [
                f"{lang}\nsdk/raw {e['sdk_over_raw']['median']:.2f}"
                for lang, e in zip(languages, entries, strict=True)
            ],
            {names[kind]: [e[kind] for e in entries] for kind in names},
            "echo tasks/s",
        )
        ax.set_title(f"SDK loop cost: {title}")
    return fig


def throughput(data: dict[str, Any]) -> Any:
    fig, ax = plt.subplots(figsize=(9, 5))
    rates = data["rates"]
    counts = sorted({int(c) for by in rates.values() for c in by})
    bars(
        ax,
        [f"{c} worker{'s' if c > 1 else ''}" for c in counts],
        {system: [by.get(str(c)) for c in counts] for system, by in rates.items()},
        "tasks/s end to end (log scale)",
    )
    ax.set_yscale("log")
    ax.set_title("Throughput: no-op tasks, first submit to last completion")
    return fig


def durability(data: dict[str, Any]) -> Any:
    fig, ax = plt.subplots(figsize=(7, 4.5))
    counts = list(data["instances"])
    bars(
        ax,
        [f"{c} instance{'s' if int(c) > 1 else ''}" for c in counts],
        {queue: [data["instances"][c][queue] for c in counts] for queue in ("sqlite", "memory")},
        "tasks/s",
    )
    ax.set_title("Durability cost: SQLite queue against the memory queue")
    return fig


def latency(data: dict[str, Any]) -> Any:
    fig, ax = plt.subplots(figsize=(7, 4.5))
    systems = list(data["systems"])
    width = 0.25
    for i, q in enumerate(("p50", "p90", "p99")):
        ax.bar(
            [s + (i - 1) * width for s in range(len(systems))],
            [data["systems"][s][f"{q}_ms"] for s in systems],
            width,
            label=q,
        )
    ax.set_xticks(range(len(systems)), systems)
    ax.set_yscale("log")
    ax.set_ylabel("submit -> result, ms (log scale)")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    ax.set_title("Latency: one task at a time")
    return fig


def payload(data: dict[str, Any]) -> Any:
    fig, ax = plt.subplots(figsize=(7, 4.5))
    sizes = sorted(int(s) for s in data["sizes"])
    for kind, name in (("pipe", "raw pipe"), ("handler", "SDK handler"), ("taskdaemon", "taskdaemon")):
        medians = [data["sizes"][str(s)][kind]["median"] for s in sizes]
        ax.plot([s / MIB for s in sizes], medians, marker="o", label=name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("task_data size, MiB (log scale)")
    ax.set_ylabel("MB/s there and back (log scale)")
    ax.legend()
    ax.grid(alpha=0.3)
    ax.set_title("Payload scaling")
    return fig


def footprint(data: dict[str, Any]) -> Any:
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.5))
    handlers = data["handlers"]
    names = (
        [f"{lang} handler" for lang in handlers]
        + [f"daemon idle\n({q})" for q in data["daemon"]]
        + [f"daemon, {data['daemon'][q]['queued'] // 1000}k queued\n({q})" for q in data["daemon"]]
    )
    values = (
        [h["rss_mib"]["median"] for h in handlers.values()]
        + [d["idle_rss_mib"] for d in data["daemon"].values()]
        + [d["holding_rss_mib"] for d in data["daemon"].values()]
    )
    left.barh(names, values)
    left.set_xlabel("RSS, MiB")
    left.set_title("Resident memory")
    left.tick_params(axis="y", labelsize=8)
    right.bar(
        list(handlers),
        [h["start_ms"]["median"] for h in handlers.values()],
        yerr=[
            [h["start_ms"]["median"] - h["start_ms"]["min"] for h in handlers.values()],
            [h["start_ms"]["max"] - h["start_ms"]["median"] for h in handlers.values()],
        ],
        capsize=3,
    )
    right.set_ylabel("ms")
    right.set_title("Handler start-up to first answered task")
    return fig


DRAWERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "sdk_loop": sdk_loop,
    "throughput": throughput,
    "durability": durability,
    "latency": latency,
    "payload": payload,
    "footprint": footprint,
}


def draw_all() -> list[Path]:
    drawn = []
    for name, draw in DRAWERS.items():
        source = RESULTS / f"{name}.json"
        if not source.exists():
            continue
        data = json.loads(source.read_text())
        fig = draw(data)
        caption(fig, data)
        fig.tight_layout(rect=(0, 0.03, 1, 1))
        target = RESULTS / f"{name}.png"
        fig.savefig(target, dpi=110)
        plt.close(fig)
        drawn.append(target)
    return drawn


if __name__ == "__main__":
    for path in draw_all():
        print(path)
