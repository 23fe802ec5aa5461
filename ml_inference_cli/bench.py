"""Read `make bench` output (bench/results.json) into the model's latency and throughput inputs.

The file's shape::

    {"backend": "onnx-fp32", "cpus": 2, "model": "...",
     "single_client": {"p50_ms": ..., "p99_ms": ..., "req_per_s": ...},
     "concurrent": {"clients": 10, "items_per_s": ..., "req_per_s": ..., "p50_ms": ..., "p99_ms": ...},
     "forward_pass_ms": ..., "cold_start_s": ...}
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Union

from .prices import InputError


def _number(data: Mapping[str, Any], path: str, origin: str) -> float:
    node: Any = data
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise InputError(f"{origin}: field '{path}' is missing (is this `make bench` output?)")
        node = node[part]
    if isinstance(node, bool) or not isinstance(node, (int, float)) or node <= 0:
        raise InputError(f"{origin}: field '{path}' must be a positive number, got {node!r}")
    return float(node)


def workload_fields_from_bench(path: Union[str, Path]) -> dict[str, float]:
    """The Workload fields a bench file measures: per-request time, items per request, replica throughput,
    idle p99, cold start and the CPUs they were measured on."""
    file = Path(path)
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"bench file {file} does not exist: run `make bench`, or give the numbers as flags") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"cannot read bench file {file}: {error}") from None
    if not isinstance(data, Mapping):
        raise InputError(f"{file}: the top level must be a JSON object")
    origin = str(file)
    single_p50 = _number(data, "single_client.p50_ms", origin) / 1000
    single_p99 = _number(data, "single_client.p99_ms", origin)
    req_per_s = _number(data, "concurrent.req_per_s", origin)
    items_per_s = _number(data, "concurrent.items_per_s", origin)
    return {
        # A lone request (Lambda: one per environment) takes at least the single-client time; under
        # load the mix's requests cost 1/req_per_s of a replica each.
        "seconds_per_request": max(single_p50, 1 / req_per_s),
        "items_per_request": items_per_s / req_per_s,
        "replica_rps": req_per_s,
        "warm_p99_ms": single_p99,
        "cold_start_s": _number(data, "cold_start_s", origin),
        "reference_vcpus": _number(data, "cpus", origin),
    }
