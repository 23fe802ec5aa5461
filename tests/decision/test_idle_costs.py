"""The idle cost of each stage's stacks: the cost model at zero traffic, with each stage's settings."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from ml_inference_cdk.config import STAGES, get_stage_config
from ml_inference_cdk.costs import idle_costs, markdown_table, stage_options, summary_line

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_readme_table_is_the_tools_output(prices):
    block = re.search(r"<!-- idle-costs:begin -->\n(.*?)\n<!-- idle-costs:end -->", README, re.S)
    assert block, "README.md has no idle-costs block"
    assert block.group(1) == markdown_table(list(STAGES.values()), prices), (
        "regenerate the README's idle table: python -m ml_inference_cdk.costs --markdown"
    )


def test_dev_network_is_the_nat_gateway_and_the_endpoints(prices):
    [network] = [c for c in idle_costs(get_stage_config("dev"), prices) if c.stack == "Network"]
    hours = prices.hours_per_month
    assert network.items["nat_gateways"] == prices.nat_gateway_hour * hours
    assert network.items["interface_endpoints"] == 5 * 2 * prices.interface_endpoint_hour * hours
    assert round(network.monthly_usd) == 106


def test_what_runs_around_the_clock_is_what_is_priced(prices):
    prod = {c.stack: c for c in idle_costs(get_stage_config("prod"), prices)}
    hours = prices.hours_per_month
    assert prod["SageMaker"].monthly_usd == 2 * prices.sagemaker_realtime["ml.c5.large"].hour * hours
    assert prod["Lambda"].items == {"provisioned_concurrency": prod["Lambda"].monthly_usd} and prod["Lambda"].monthly_usd > 0
    assert prod["Eks"].items["control_plane"] == prices.eks_cluster_hour * hours
    dev = {c.stack: c for c in idle_costs(get_stage_config("dev"), prices)}
    assert dev["Lambda"].monthly_usd == 0 and dev["SageMaker"].monthly_usd == 0  # per request only
    assert stage_options(get_stage_config("dev")).fargate_spot_share == 1.0


def test_a_stage_prices_only_its_targets(prices):
    lambda_only = dataclasses.replace(get_stage_config("prod"), targets=("Lambda",))
    assert [c.stack for c in idle_costs(lambda_only, prices)] == ["Lambda"]


def test_summary_line_says_what_it_leaves_out(prices):
    line = summary_line(get_stage_config("dev"), prices)
    assert line.startswith("Idle estimate for stage dev: about $") and "Network $106" in line and "not counted:" in line
    assert "\n" not in line
