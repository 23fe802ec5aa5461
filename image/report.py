"""build/image-report.json: sizes, what fills the images, cold start, Lambda init, the goals.

Benchmark figures, not timed tests: the report says whether each goal is met; the checks, not
the goals, decide whether ``make image-test`` passes.
"""

from __future__ import annotations

import json
import os
import platform
import re
import statistics
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

MIB = 2**20
#: Issue 13's goals, for the full-size fp32 model on 2 vCPUs (the reference article: 1.2 and 1.3 GB).
GOALS = {
    "server_bytes": ("<=", 600 * MIB),
    "lambda_bytes": ("<=", 800 * MIB),
    "server_cold_start_s": ("<=", 2.5),
}


def group_of(path: str) -> str:
    """What a file belongs to: an installed distribution (dist-info, .libs and .py files folded in),
    a model file, the standard library, else its folder three levels down."""
    parts = path.strip("/").split("/")
    if "site-packages" in parts[:-1]:
        at = parts.index("site-packages")
        name = re.split(r"[-.]", parts[at + 1], maxsplit=1)[0] if len(parts) > at + 1 else ""
        return "/" + "/".join(parts[: at + 1]) + "/" + (name if name != "__pycache__" else "(top-level .pyc)")
    if path.startswith("/opt/ml/model/"):
        return path
    if len(parts) > 3 and parts[:3] == ["usr", "local", "lib"] and parts[3].startswith("python3"):
        return f"/usr/local/lib/{parts[3]} (standard library)"
    return "/" + "/".join(parts[:3] if len(parts) > 3 else parts[:-1] or parts)


def contributors(files: Iterable[tuple[str, int]], top: int = 15) -> list[dict]:
    """The ``top`` largest groups of files, bytes and MiB, largest first."""
    sizes: dict[str, int] = defaultdict(int)
    for path, size in files:
        sizes[group_of(path)] += size
    largest = sorted(sizes.items(), key=lambda item: item[1], reverse=True)[:top]
    return [{"path": path, "bytes": size, "MiB": round(size / MIB, 1)} for path, size in largest]


def goals(figures: dict) -> dict:
    result = {}
    for name, (op, limit) in GOALS.items():
        value = figures.get(name)
        met = value is not None and (value <= limit if op == "<=" else value >= limit)
        shown = f"{limit / MIB:.0f} MiB" if name.endswith("_bytes") else f"{limit} s"
        result[name] = {"value": value, "goal": f"{op} {shown}", "met": met}
    return result


def median(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def machine() -> dict:
    return {"cpus": os.cpu_count(), "machine": platform.machine(), "kernel": platform.release(),
            "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)}


def build_report(*, engine: str, driver: str | None, sizes: dict[str, int], cold_starts: list[float],
                 lambda_inits: list[float], largest: dict[str, list[dict]], shared_layers: dict | None,
                 checks: dict[str, dict], seconds: dict[str, float], gpu: dict | None) -> dict:
    figures = {
        "server_bytes": sizes.get("ml-inference:server"),
        "lambda_bytes": sizes.get("ml-inference:lambda"),
        "server_cold_start_s": median(cold_starts),
        "lambda_init_s": median(lambda_inits),
    }
    return {
        **figures,
        "server_MiB": _mib(figures["server_bytes"]),
        "lambda_MiB": _mib(figures["lambda_bytes"]),
        "goals": goals(figures),
        "measured": {
            "how": "sizes: uncompressed (the sum of the image's layer tars); server_cold_start_s: median of "
                   "the runs, the container process's start to its first 200 from POST /predict; "
                   "lambda_init_s: median, the process's start to the runtime's first GET /invocation/next "
                   "(handler import and model load). Full-size random DistilBERT, fp32 ONNX.",
            "server_cold_start_runs_s": cold_starts,
            "lambda_init_runs_s": lambda_inits,
            "engine": engine,
            "storage_driver": driver,
            "base_images": "stand-ins made offline (image/stand_in_bases.sh)" if engine == "buildah" else "the real ones",
            "machine": machine(),
        },
        "images": {tag: {"bytes": size, "MiB": _mib(size)} for tag, size in sorted(sizes.items())},
        "lambda_layers_shared_with_server": shared_layers,
        "largest_contributors": largest,
        "server_gpu": gpu,
        "checks": checks,
        "seconds": seconds,
    }


def _mib(size: int | None) -> float | None:
    return None if size is None else round(size / MIB, 1)


def summary(report: dict) -> str:
    """What `make image-test` prints."""
    lines = ["", "image report (build/image-report.json)"]
    for name, goal in report["goals"].items():
        value = goal["value"]
        shown = "missing" if value is None else (f"{value / MIB:.0f} MiB ({value:,} bytes)" if name.endswith("_bytes")
                                                 else f"{value} s")
        lines.append(f"  {name:22} {shown:34} goal {goal['goal']:>10}  {'met' if goal['met'] else 'NOT MET'}")
    lines.append(f"  {'lambda_init_s':22} {report['lambda_init_s']} s")
    for tag, size in report["images"].items():
        lines.append(f"  {tag:34} {size['MiB']:>8} MiB")
    for image, groups in report["largest_contributors"].items():
        lines.append(f"  largest in {image}: " + ", ".join(f"{g['path']} {g['MiB']}" for g in groups[:6]))
    failed = [name for name, check in report["checks"].items() if not check["passed"]]
    lines.append(f"  checks: {len(report['checks']) - len(failed)} passed, {len(failed)} failed"
                 + (": " + "; ".join(failed) if failed else ""))
    return "\n".join(lines)


def write(report: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
