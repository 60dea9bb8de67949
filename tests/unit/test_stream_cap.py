"""The open-stream cap follows Robyn's thread pools: per process, SERVER_WORKERS x
max(512 // cpus, 1) x 0.9, with cpus counted as Rust counts them (affinity mask, cgroup
quota), and MAX_OPEN_STREAMS overriding it, with a warning beyond what Robyn holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from robyn_server import cpus as cpu_count
from robyn_server.config import Settings, SettingsError
from robyn_server.cpus import available_cpus


@pytest.fixture
def cpus(monkeypatch: pytest.MonkeyPatch):
    """Pretend the process may run on `n` CPUs (its affinity mask), without a quota."""

    def set_cpus(n: int) -> None:
        monkeypatch.setattr(cpu_count.os, "sched_getaffinity", lambda pid: set(range(n)))
        monkeypatch.setattr(cpu_count, "PROC_CGROUP", Path("/nonexistent/cgroup"))

    return set_cpus


@pytest.mark.parametrize(
    ("n_cpus", "workers", "capacity", "limit"),
    [
        (2, 1, 256, 230),
        (2, 10, 2560, 2304),
        (1, 10, 5120, 4608),  # taskset -c 1: 512 threads per worker
        (4, 3, 384, 345),
        (1024, 2, 2, 1),  # never below one thread per worker
    ],
)
def test_the_cap_is_workers_times_threads_per_worker_times_0_9(
    cpus, n_cpus: int, workers: int, capacity: int, limit: int
) -> None:
    cpus(n_cpus)
    settings = Settings(workers=workers)
    assert settings.stream_thread_capacity == capacity
    assert settings.open_stream_limit == limit
    assert settings.open_stream_limit_warning is None


def test_max_open_streams_overrides_and_warns_beyond_robyn(cpus) -> None:
    cpus(2)
    within = Settings(workers=10, max_open_streams=2560)
    assert within.open_stream_limit == 2560
    assert within.open_stream_limit_warning is None
    beyond = Settings(workers=1, max_open_streams=600)
    assert beyond.open_stream_limit == 600
    warning = beyond.open_stream_limit_warning
    assert warning is not None
    assert "600" in warning and "256" in warning and "SERVER_WORKERS" in warning


def _cgroup_v2(tmp_path: Path, quota: str) -> None:
    (tmp_path / "proc").write_text("0::/box/app\n")
    for part in ("box", "box/app"):
        (tmp_path / "fs" / part).mkdir(parents=True, exist_ok=True)
    (tmp_path / "fs" / "box" / "cpu.max").write_text(f"{quota} 100000\n")
    (tmp_path / "fs" / "box" / "app" / "cpu.max").write_text("max 100000\n")


def test_cpus_are_capped_by_a_cgroup_v2_quota(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setattr(cpu_count.os, "sched_getaffinity", lambda pid: set(range(8)))
    monkeypatch.setattr(cpu_count, "PROC_CGROUP", tmp_path / "proc")
    monkeypatch.setattr(cpu_count, "CGROUP_ROOT", tmp_path / "fs")
    _cgroup_v2(tmp_path, "250000")  # 2.5 CPUs, on a parent: Rust rounds down
    assert available_cpus() == 2
    assert Settings(workers=2).open_stream_limit == 2 * 256 * 9 // 10
    _cgroup_v2(tmp_path, "50000")  # half a CPU counts as one
    assert available_cpus() == 1
    _cgroup_v2(tmp_path, "max")
    assert available_cpus() == 8


def test_cpus_are_capped_by_a_cgroup_v1_quota(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setattr(cpu_count.os, "sched_getaffinity", lambda pid: set(range(4)))
    monkeypatch.setattr(cpu_count, "PROC_CGROUP", tmp_path / "proc")
    monkeypatch.setattr(cpu_count, "CGROUP_ROOT", tmp_path / "fs")
    (tmp_path / "proc").write_text("4:memory:/x\n1:cpu,cpuacct:/\n")
    (tmp_path / "fs" / "cpu").mkdir(parents=True)
    (tmp_path / "fs" / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    (tmp_path / "fs" / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert available_cpus() == 4  # -1: no quota
    (tmp_path / "fs" / "cpu" / "cpu.cfs_quota_us").write_text("300000\n")
    assert available_cpus() == 3


def test_the_affinity_mask_counts_not_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cpu_count.os, "cpu_count", lambda: 64)
    monkeypatch.setattr(cpu_count.os, "sched_getaffinity", lambda pid: {1})
    monkeypatch.setattr(cpu_count, "PROC_CGROUP", Path("/nonexistent/cgroup"))
    assert available_cpus() == 1


def test_stream_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVER_WORKERS", "10")
    monkeypatch.setenv("MAX_OPEN_STREAMS", "3000")
    monkeypatch.setenv("GIL_SWITCH_INTERVAL_MS", "2.5")
    monkeypatch.setenv("STREAM_WAKE_LIMIT", "32")
    settings = Settings.from_env()
    assert (settings.workers, settings.max_open_streams) == (10, 3000)
    assert settings.gil_switch_interval_ms == 2.5
    assert settings.stream_wake_limit == 32
    monkeypatch.setenv("STREAM_WAKE_LIMIT", "0")
    with pytest.raises(SettingsError, match="STREAM_WAKE_LIMIT"):
        Settings.from_env()
    monkeypatch.setenv("STREAM_WAKE_LIMIT", "64")
    monkeypatch.setenv("GIL_SWITCH_INTERVAL_MS", "-1")
    with pytest.raises(SettingsError, match="GIL_SWITCH_INTERVAL_MS"):
        Settings.from_env()
