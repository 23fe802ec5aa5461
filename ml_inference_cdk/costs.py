"""What each stage's stacks cost a month while idle, from the cost model and its price sheet.

    python -m ml_inference_cdk.costs --stage dev     # one line: the stage's idle estimate (make synth prints it)
    python -m ml_inference_cdk.costs --markdown      # the README's table, every stage

Idle means deployed and answering no requests: what runs (or is reserved) around the clock.
The cost model (`ml_inference_cli`) prices each target at zero traffic with the stage's settings.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Optional

from ml_inference_cli.model import Options, Workload, estimate_all, network_cost
from ml_inference_cli.prices import Prices, load_prices

from .config import STAGES, StageConfig, get_stage_config

#: The cost model's target for each SageMaker mode of StageConfig.
_SAGEMAKER_TARGETS = {"real-time": "sagemaker-realtime", "serverless": "sagemaker-serverless", "async": "sagemaker-async"}
#: The EKS node the model prices: one inference pod (1 vCPU, 2 GiB requested) fills one.
EKS_NODE = "t3.large"
#: What the estimate leaves out, said wherever it is shown.
NOT_COUNTED = (
    "per-request and data charges, logs and metrics, KMS keys ($1 a month each), public IPv4 "
    "addresses, and EKS Auto Mode's per-node management fee"
)


@dataclass(frozen=True)
class IdleCost:
    """One stack's idle month: the total and its line items."""

    stack: str
    monthly_usd: float
    items: Mapping[str, float]


def stage_options(config: StageConfig) -> Options:
    """The cost model's options for `config`'s stage: the same sizes, minimums and network."""
    spot_share = 1.0 if config.fargate_spot_weight and not config.fargate_on_demand_base else 0.0
    return Options(
        lambda_memory_mb=config.lambda_memory_mib,
        lambda_provisioned_concurrency=config.lambda_provisioned_concurrency,
        fargate_vcpu=config.fargate_cpu / 1024,
        fargate_memory_gb=config.fargate_memory_mib / 1024,
        fargate_min_tasks=config.fargate_min_tasks,
        fargate_spot_share=spot_share,
        eks_node_type=EKS_NODE,
        eks_min_nodes=config.eks_min_replicas,
        sagemaker_instance_type=config.sagemaker_instance_type,
        sagemaker_min_instances=config.sagemaker_min_instances,
        sagemaker_serverless_memory_mb=config.sagemaker_serverless_memory_mib,
        nat_gateways=config.nat_gateways,
        availability_zones=config.max_azs,
    )


def idle_costs(config: StageConfig, prices: Optional[Prices] = None) -> list[IdleCost]:
    """The idle month of every stack `config`'s stage deploys, Network first."""
    prices = prices or load_prices()
    options = stage_options(config)
    targets = {
        "Lambda": "lambda",
        "Fargate": "fargate",
        "Eks": "eks",
        "SageMaker": _SAGEMAKER_TARGETS[config.sagemaker_mode],
    }
    chosen = [target for target in targets if target in config.targets]
    estimates = estimate_all(Workload(requests_per_day=0), prices, options, [targets[t] for t in chosen])
    costs = []
    if config.needs_network:
        network = network_cost(prices, options)
        costs.append(IdleCost("Network", network.monthly_usd, dict(network.items)))
    for target in chosen:
        estimate = estimates[targets[target]]
        costs.append(IdleCost(target, estimate.monthly_usd, {k: v for k, v in estimate.items.items() if v}))
    return costs


def summary_line(config: StageConfig, prices: Optional[Prices] = None) -> str:
    """One line: the stage's idle estimate, per stack."""
    costs = idle_costs(config, prices)
    total = sum(cost.monthly_usd for cost in costs)
    parts = ", ".join(f"{cost.stack} ${cost.monthly_usd:,.0f}" for cost in costs)
    prices = prices or load_prices()
    sheet = "" if prices.region == config.region else f" at {prices.region} prices"
    return (f"Idle estimate for stage {config.name}{sheet}: about ${total:,.0f}/month ({parts}); "
            f"not counted: {NOT_COUNTED}. Details: ml-inference cost, docs/cost-model.md")


def markdown_table(stages: Sequence[StageConfig], prices: Optional[Prices] = None) -> str:
    """The README's table: each stack's idle month in each stage, and the stage's total."""
    by_stage = {config.name: {cost.stack: cost for cost in idle_costs(config, prices)} for config in stages}
    stacks = [s for s in ("Network", "Lambda", "Fargate", "Eks", "SageMaker") if any(s in c for c in by_stage.values())]
    lines = ["| Stack, idle | " + " | ".join(by_stage) + " |", "|---|" + "---:|" * len(by_stage)]
    for stack in stacks:
        cells = [_money(by_stage[name][stack].monthly_usd) if stack in by_stage[name] else "-" for name in by_stage]
        lines.append(f"| `MlInference-{stack}` | " + " | ".join(cells) + " |")
    totals = [_money(sum(cost.monthly_usd for cost in costs.values())) for costs in by_stage.values()]
    lines.append("| **stage total** | " + " | ".join(f"**{total}**" for total in totals) + " |")
    return "\n".join(lines)


def _money(value: float) -> str:
    return f"${math.floor(value + 0.5):,}"


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ml_inference_cdk.costs", description=__doc__.splitlines()[0])
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--stage", help="print the one-line idle estimate of this stage")
    which.add_argument("--markdown", action="store_true", help="print the README table for every stage")
    args = parser.parse_args(argv)
    try:
        if args.markdown:
            print(markdown_table(list(STAGES.values())))
        else:
            print(summary_line(get_stage_config(args.stage)))
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
