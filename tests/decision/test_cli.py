"""`ml-inference cost` / `recommend`: text, JSON, plot, and bad input that stops with exit code 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_cost_prints_every_target_the_network_apart_and_the_crossovers(cli):
    code, out, err = cli("cost", "--requests-per-day", "20000")
    assert code == 0 and not err
    for name in ("Lambda", "Fargate", "EKS", "SageMaker real-time", "SageMaker serverless", "SageMaker async"):
        assert name in out
    assert "Shared network (apart): $105.85/month" in out
    assert "Crossovers" in out and "Prices: us-east-1 on-demand" in out


def test_recommend_names_a_target_and_says_why(cli):
    code, out, _ = cli("recommend", "--requests-per-day", "5000", "--targets", "lambda,fargate,eks")
    assert code == 0
    first = out.splitlines()[0]
    assert first == "Recommendation: Lambda"
    assert "the cheapest of the targets that hold a p99 of 1,000 ms" in out
    assert "Fargate comes next" in out


def test_recommend_picks_an_always_on_target_for_heavy_steady_traffic_with_a_fast_model(cli, bench_file):
    code, out, _ = cli("recommend", "--bench", str(bench_file), "--requests-per-day", "3000000",
                       "--targets", "lambda,fargate,eks", "--json")
    data = json.loads(out)
    assert code == 0 and data["recommendation"]["target"] == "fargate"
    assert "shared VPC" in data["recommendation"]["text"]


def test_recommend_says_so_when_no_target_holds_the_latency(cli):
    code, out, _ = cli("recommend", "--p99-ms", "10", "--json")
    data = json.loads(out)
    assert code == 0 and data["recommendation"]["target"] is None
    assert data["recommendation"]["reasons"][0].startswith("No target holds a p99 of 10 ms")


def test_json_has_inputs_prices_estimates_network_crossovers(cli):
    code, out, _ = cli("cost", "--json", "--shape", "bursty", "--peak-factor", "6", "--fargate-spot-share", "0.5")
    data = json.loads(out)
    assert code == 0
    assert set(data) >= {"prices", "workload", "options", "estimates", "network", "crossovers", "cheapest_by_traffic",
                         "recommendation"}
    assert data["prices"]["date"] and data["prices"]["source"]["fargate"].startswith("https://")
    assert data["workload"]["shape"] == "bursty" and data["options"]["fargate_spot_share"] == 0.5
    assert data["estimates"]["fargate"]["replicas_peak"] >= 1


def test_plot_writes_a_png(cli, tmp_path):
    path = tmp_path / "cost.png"
    code, out, _ = cli("cost", "--plot", str(path), "--targets", "lambda,fargate,eks")
    assert code == 0 and f"Plot: {path}" in out
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 20_000


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["cost", "--requests-per-day", "-5"], "requests per day must be zero or more, got -5.0"),
        (["cost", "--targets", "lambda,heroku"], "unknown target 'heroku': use one or more of lambda, fargate, eks"),
        (["recommend", "--shape", "weekly"], "argument --shape: invalid choice: 'weekly'"),
        (["cost", "--fargate-spot-share", "2"], "Fargate Spot share must be between 0 and 1"),
        (["cost", "--requests-per-day", "lots"], "argument --requests-per-day/-r: invalid float value: 'lots'"),
        (["cost", "--requests-per-day", "inf"], "requests per day must be a finite number, got inf"),
        (["cost", "--fargate-vcpu", "nan"], "fargate vcpu must be a finite number, got nan"),
        (["cost", "--plot", "chart.svg"], "--plot writes a PNG"),
        (["cost", "--prices", "/nonexistent/prices.json"], "price file /nonexistent/prices.json does not exist"),
        (["cost", "--region", "mars-1"], "no price file shipped for region 'mars-1'"),
        (["cost", "--bench", "/nonexistent/results.json"], "bench file /nonexistent/results.json does not exist"),
        (["price"], "invalid choice: 'price'"),
    ],
)
def test_fails_with_a_clear_message_and_exit_code_2(cli, argv, message):
    code, out, err = cli(*argv)
    assert code == 2
    assert f"ml-inference: error: {message}" in err or message in err
    assert "Traceback" not in err and not out


def test_fails_when_the_price_file_lacks_a_field(cli, tmp_path, price_data):
    del price_data["fargate"]["vcpu_hour"]["x86_64"]
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(price_data))
    code, _, err = cli("cost", "--prices", str(path))
    assert code == 2
    assert err.strip() == f"ml-inference: error: {path}: field 'fargate.vcpu_hour.x86_64' is missing"


def test_the_module_entry_point_exits_2_without_a_traceback():
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20", "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-m", "ml_inference_cli", "cost", "--requests-per-day", "-1"],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().endswith("ml-inference: error: requests per day must be zero or more, got -1.0")
    assert "Traceback" not in result.stderr
