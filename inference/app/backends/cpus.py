"""How many CPUs this process may really use: a container sees the host's cores, not its quota."""

from __future__ import annotations

import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def available_cpus(cgroup_root: Path = CGROUP_ROOT) -> int:
    """CPUs this process may use: the smaller of its affinity mask and its cgroup CPU quota.

    Containers get a quota (ECS task cpu, Kubernetes limits, ``docker run --cpus``), not fewer
    visible cores: ``os.cpu_count()`` shows the host's. Reads cgroup v2 ``cpu.max`` and cgroup v1
    ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``; a fractional quota rounds down, to at least 1
    (more threads than the quota only get throttled).
    """
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    quota = cgroup_cpu_quota(cgroup_root)
    if quota is not None:
        cpus = min(cpus, max(1, int(quota)))
    return max(1, cpus)


def cgroup_cpu_quota(cgroup_root: Path = CGROUP_ROOT) -> float | None:
    """The cgroup CPU quota in CPUs (1.5 = 150 ms per 100 ms), or None when there is none."""
    try:  # cgroup v2: "max 100000" or "150000 100000"
        quota, period = (cgroup_root / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    for folder in ("cpu", "cpu,cpuacct", "cpuacct,cpu", "."):  # cgroup v1: quota -1 means none
        try:
            quota_us = int((cgroup_root / folder / "cpu.cfs_quota_us").read_text())
            period_us = int((cgroup_root / folder / "cpu.cfs_period_us").read_text())
        except (OSError, ValueError):
            continue
        return quota_us / period_us if quota_us > 0 and period_us > 0 else None
    return None
