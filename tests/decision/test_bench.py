"""`make bench` output feeds the model; flags override it."""

from __future__ import annotations

import json

import pytest

from ml_inference_cli.bench import workload_fields_from_bench
from ml_inference_cli.prices import InputError


def test_a_bench_file_gives_latency_throughput_mix_and_cold_start(bench_file):
    fields = workload_fields_from_bench(bench_file)
    assert fields == pytest.approx({
        "seconds_per_request": 1 / 60,  # the mix under load costs more than a lone 14 ms request
        "items_per_request": 3.0,
        "replica_rps": 60.0,
        "warm_p99_ms": 22.0,
        "cold_start_s": 1.2,
        "reference_vcpus": 2.0,
    })


def test_the_cli_uses_the_bench_file_and_flags_win(cli, bench_file):
    code, out, _ = cli("cost", "--bench", str(bench_file), "--json")
    data = json.loads(out)
    assert code == 0
    assert data["workload"]["replica_rps"] == 60 and data["workload"]["cold_start_s"] == 1.2
    assert data["workload"]["items_per_request"] == 3
    code, out, _ = cli("cost", "--bench", str(bench_file), "--replica-rps", "20", "--latency-ms", "50", "--json")
    data = json.loads(out)
    assert data["workload"]["replica_rps"] == 20 and data["workload"]["seconds_per_request"] == 0.05
    assert data["workload"]["cold_start_s"] == 1.2


def test_fails_when_the_bench_file_lacks_a_field(tmp_path, bench_file):
    data = json.loads(bench_file.read_text())
    del data["concurrent"]["req_per_s"]
    path = tmp_path / "results.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match="field 'concurrent.req_per_s' is missing"):
        workload_fields_from_bench(path)
    with pytest.raises(InputError, match="does not exist: run `make bench`"):
        workload_fields_from_bench(tmp_path / "none.json")
