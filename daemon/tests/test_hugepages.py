"""`taskdaemond serve` restarts itself once with glibc's huge-page tunable (hugepages.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from taskdaemond import hugepages

from .helpers import handler_table, serving

ON_THIS_MACHINE = hugepages.tuned_environment({}) is not None


def environ_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(entry.decode().partition("=")[::2] for entry in raw if entry)


@pytest.mark.skipif(not ON_THIS_MACHINE, reason="needs Linux, glibc >= 2.35 and transparent huge pages")
def test_the_tunable_is_added_to_what_glibc_tunables_already_says() -> None:
    tuned = hugepages.tuned_environment({"GLIBC_TUNABLES": "glibc.malloc.arena_max=2", "HOME": "/h"})
    assert tuned == {"GLIBC_TUNABLES": "glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1", "HOME": "/h"}
    assert hugepages.tuned_environment({})["GLIBC_TUNABLES"] == "glibc.malloc.hugetlb=1"  # type: ignore[index]


def test_a_hugetlb_setting_of_the_user_is_kept() -> None:
    assert hugepages.tuned_environment({"GLIBC_TUNABLES": "glibc.malloc.hugetlb=0"}) is None


@pytest.mark.skipif(not ON_THIS_MACHINE, reason="needs Linux, glibc >= 2.35 and transparent huge pages")
def test_the_daemon_runs_with_the_tunable_under_its_own_pid_and_its_handlers_without_it(
    tmp_path: Path,
) -> None:
    with serving(tmp_path, {"echo": handler_table("behave", instances=1)}) as daemon:
        assert daemon.process is not None
        daemon_environment = environ_of(daemon.process.pid)  # the pid the test started: execve kept it
        assert "glibc.malloc.hugetlb=1" in daemon_environment.get("GLIBC_TUNABLES", "")
        [handler_pid] = daemon.handler_pids()
        assert "GLIBC_TUNABLES" not in environ_of(handler_pid)
        with daemon.client() as client:
            answer = client.post("/queue", params={"wait": 30}, json={"type": "echo", "data": {"n": 1}})
            assert answer.json()["status"] == "completed"
