"""The README's cost figures are the cost model's: each one is recomputed here from the tool."""

from __future__ import annotations

import re
from pathlib import Path

from ml_inference_cli import published
from ml_inference_cli.model import Options, Workload, cheapest_bands, crossovers, estimate_all

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()
TARGETS = ["lambda", "fargate", "eks", "sagemaker-realtime", "sagemaker-serverless", "sagemaker-async"]


def _about(value: float, step: int) -> str:
    """How the README rounds a traffic figure: to `step`, with thousands separators."""
    return f"{round(value / step) * step:,.0f}"


def _crossover(workload, prices, options, targets, a, b) -> float:
    return next(c.requests_per_day for c in crossovers(workload, prices, options, targets)
                if {c.cheaper_below, c.cheaper_above} == {a, b})


def test_default_figures_at_10000_a_day(prices):
    estimates = estimate_all(Workload(requests_per_day=10_000), prices, Options(), TARGETS)
    assert f"about ${estimates['lambda'].monthly_usd:.2f}/month at 10,000 requests/day" in README
    assert f"about ${estimates['fargate'].monthly_usd:.2f}/month for one 2 vCPU / 4 GB task and the ALB" in README
    assert f"about ${prices.eks_cluster_hour * prices.hours_per_month:.0f}/month for the control plane" in README


def test_lambda_fargate_crossovers(prices):
    default = _crossover(Workload(), prices, Options(), TARGETS, "lambda", "fargate")
    assert f"Lambda stays cheaper up to about {_about(default, 100_000 if default > 100_000 else 1_000)} requests/day" in README
    paper = _crossover(published.WORKLOAD, prices, published.OPTIONS, list(published.TARGETS), "lambda", "fargate")
    assert f"about {_about(paper, 1_000)} in the published comparison" in README
    eks = _crossover(published.WORKLOAD, prices, published.OPTIONS, list(published.TARGETS), "lambda", "eks")
    assert f"above\nroughly {_about(eks, 1_000)} requests/day in the published" in README


def test_published_figures_are_the_ones_reproduced(prices):
    # The README quotes the published figures; the tool reproduces each within 2%.
    estimates = estimate_all(published.WORKLOAD, prices, published.OPTIONS, list(published.TARGETS))
    for target, figure in published.PUBLISHED.items():
        assert f"${figure:,.2f}" in README
        assert abs(estimates[target].monthly_usd / figure - 1) < 0.02


def test_cheapest_band_by_traffic(prices):
    bands = cheapest_bands(Workload(), prices, Options(), TARGETS)
    lambda_band = next(b for b in bands if b.target == "lambda")
    assert f"p99 from about {_about(lambda_band.from_requests_per_day, 100)} requests/day" in README
    assert lambda_band.to_requests_per_day >= 10_000_000 * 0.999 and "(10 million a day)" in README
    assert bands[0].target == "sagemaker-realtime" and "one SageMaker real-time instance" in README
