"""`ml-inference cost` and `ml-inference recommend`: what each target costs for your traffic, and which to pick;
`ml-inference smoke`: does a running service answer as it should (see smoke.py).

    ml-inference cost --requests-per-day 50000 --shape business-hours --bench bench/results.json
    ml-inference recommend --requests-per-day 2000 --p99-ms 800 --json
    ml-inference cost --published --plot docs/img/cost-vs-traffic.png
    ml-inference smoke --stack MlInference-Fargate --stage dev

Inputs come from the defaults, then a `make bench` file (--bench), then flags (flags win). Prices come
from the shipped sheet for --region, or --prices FILE. Bad input stops with a message and exit code 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from typing import Any, Optional

from . import published, smoke
from .bench import workload_fields_from_bench
from .model import (
    SHAPES,
    TARGETS,
    Options,
    Workload,
    cheapest_bands,
    check_targets,
    network_cost,
)
from .prices import DEFAULT_REGION, InputError, load_prices, shipped_price_file
from .recommend import recommend

PROG = "ml-inference"

# flag dest -> Workload field
WORKLOAD_FLAGS = {
    "requests_per_day": "requests_per_day",
    "shape": "shape",
    "peak_factor": "peak_factor",
    "burst_fraction": "burst_fraction",
    "items_per_request": "items_per_request",
    "reference_vcpus": "reference_vcpus",
    "replica_rps": "replica_rps",
    "warm_p99_ms": "warm_p99_ms",
    "cold_start_s": "cold_start_s",
    "p99_ms": "p99_target_ms",
}
# flag dest -> Options field
OPTION_FLAGS = {
    "architecture": "architecture",
    "lambda_memory_mb": "lambda_memory_mb",
    "provisioned_concurrency": "lambda_provisioned_concurrency",
    "fargate_vcpu": "fargate_vcpu",
    "fargate_memory_gb": "fargate_memory_gb",
    "fargate_min_tasks": "fargate_min_tasks",
    "fargate_spot_share": "fargate_spot_share",
    "target_utilization": "target_utilization",
    "eks_node_type": "eks_node_type",
    "eks_min_nodes": "eks_min_nodes",
    "sagemaker_instance_type": "sagemaker_instance_type",
    "sagemaker_serverless_memory_mb": "sagemaker_serverless_memory_mb",
    "nat_gateways": "nat_gateways",
    "interface_endpoints": "interface_endpoints",
    "azs": "availability_zones",
    "count_network": "count_network",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own errors: same shape as ours, exit 2
        self.print_usage(sys.stderr)
        raise SystemExit(_fail(message))


def _fail(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 2


def _add_common(parser: argparse.ArgumentParser) -> None:
    traffic = parser.add_argument_group("traffic")
    traffic.add_argument("--requests-per-day", "-r", type=float, metavar="N", help="requests a day (default 10,000)")
    traffic.add_argument("--shape", choices=SHAPES, help="steady (default), business-hours (10 h x 5 days) or bursty")
    traffic.add_argument("--peak-factor", type=float, metavar="X", help="bursty: the peak over the mean (default 5)")
    traffic.add_argument("--burst-fraction", type=float, metavar="F", help="bursty: share of the time at the peak (default 0.1)")
    traffic.add_argument("--items-per-request", type=float, metavar="N", help="texts per request (default 1, or the bench mix)")
    measured = parser.add_argument_group("measured performance (default: --bench, else 250 ms a request)")
    measured.add_argument("--bench", metavar="FILE", help="`make bench` output (bench/results.json)")
    measured.add_argument("--latency-ms", type=float, metavar="MS", help="service time of one request on one replica")
    measured.add_argument("--replica-rps", type=float, metavar="N", help="requests/s one replica sustains (default 1000/latency)")
    measured.add_argument("--reference-vcpus", type=float, metavar="N", help="vCPUs the figures were measured on (default 2)")
    measured.add_argument("--warm-p99-ms", type=float, metavar="MS", help="p99 of one request on an idle replica")
    measured.add_argument("--cold-start-s", type=float, metavar="S", help="new environment to first answer (default 3.5)")
    measured.add_argument("--p99-ms", type=float, metavar="MS", help="the p99 latency target (default 1000)")
    targets = parser.add_argument_group("targets")
    targets.add_argument("--targets", metavar="LIST", help=f"comma-separated subset of: {', '.join(TARGETS)}")
    targets.add_argument("--architecture", choices=("x86_64", "arm64"), help="Lambda and Fargate (default x86_64)")
    targets.add_argument("--lambda-memory-mb", type=int, metavar="MB", help="default 3008")
    targets.add_argument("--provisioned-concurrency", type=int, metavar="N", help="Lambda provisioned environments (default 0)")
    targets.add_argument("--fargate-vcpu", type=float, metavar="N", help="per task (default 2)")
    targets.add_argument("--fargate-memory-gb", type=float, metavar="GB", help="per task (default 4)")
    targets.add_argument("--fargate-min-tasks", type=int, metavar="N", help="default 1")
    targets.add_argument("--fargate-spot-share", type=float, metavar="F", help="share of tasks on Fargate Spot, 0-1 (default 0)")
    targets.add_argument("--target-utilization", type=float, metavar="F", help="autoscaling target (default 0.7)")
    targets.add_argument("--eks-node-type", metavar="TYPE", help="default t3.large")
    targets.add_argument("--eks-min-nodes", type=int, metavar="N", help="default 2")
    targets.add_argument("--sagemaker-instance-type", metavar="TYPE", help="real-time and async (default ml.c5.large, SageMakerEndpoint's default)")
    targets.add_argument("--sagemaker-serverless-memory-mb", type=int, metavar="MB", help="default 3072")
    network = parser.add_argument_group("shared network (shown apart)")
    network.add_argument("--nat-gateways", type=int, metavar="N", help="default 1 (prod: 2)")
    network.add_argument("--interface-endpoints", type=int, metavar="N", help="default 5 (ECR api/dkr, Logs, STS, SageMaker runtime)")
    network.add_argument("--azs", type=int, metavar="N", help="availability zones (default 2)")
    network.add_argument("--count-network", action="store_true", default=None,
                         help="add the network to Fargate and EKS when comparing (default: shown apart)")
    output = parser.add_argument_group("prices and output")
    output.add_argument("--prices", metavar="FILE", help="a price sheet of the shipped shape (default: the shipped one)")
    output.add_argument("--region", default=DEFAULT_REGION, help=f"the shipped sheet to use (default {DEFAULT_REGION})")
    output.add_argument("--published", action="store_true",
                        help="the published Lambda/Fargate/EKS comparison's inputs (docs/cost-model.md), with its figures")
    output.add_argument("--json", action="store_true", help="machine-readable output")
    output.add_argument("--plot", metavar="FILE.png", help="write monthly cost against requests/day for every target")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Cost, capacity and target recommendation for the inference service.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_common(sub.add_parser("cost", help="monthly cost, replicas and latency of every target"))
    _add_common(sub.add_parser("recommend", help="which target, and why"))
    smoke.add_arguments(sub.add_parser("smoke", help="check a running service or a deployed stack (exit 1 on failure)",
                                       description=smoke.__doc__.split("\n\n")[0]))
    return parser


def _inputs(args: argparse.Namespace) -> tuple[Workload, Options, tuple[str, ...]]:
    if args.published:
        workload, options = published.WORKLOAD, published.OPTIONS
        default_targets: Sequence[str] = published.TARGETS
    else:
        workload, options, default_targets = Workload(), Options(), TARGETS
    fields: dict[str, Any] = {}
    if args.bench:
        fields.update(workload_fields_from_bench(args.bench))
    if args.latency_ms is not None:
        fields["seconds_per_request"] = args.latency_ms / 1000
    for flag, field in WORKLOAD_FLAGS.items():
        if getattr(args, flag) is not None:
            fields[field] = getattr(args, flag)
    workload = dataclasses.replace(workload, **fields)
    option_fields = {field: getattr(args, flag) for flag, field in OPTION_FLAGS.items() if getattr(args, flag) is not None}
    options = dataclasses.replace(options, **option_fields)
    targets = check_targets([t.strip() for t in args.targets.split(",")] if args.targets else default_targets)
    return workload, options, targets


def timings_source(args: argparse.Namespace) -> str:
    """Where the per-request timings come from, said in every output: a bench file, flags or defaults."""
    if args.latency_ms is not None:
        return f"--latency-ms {args.latency_ms:g}"
    if args.bench:
        return f"measured, from {args.bench}"
    if args.published:
        return "the published comparison's (--published)"
    return "the model's defaults (250 ms a request); pass --bench FILE for `make bench` measurements"


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_round(v) for v in value]
    return value


def run(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "smoke":
        return smoke.run(args)
    workload, options, targets = _inputs(args)
    prices = load_prices(args.prices or shipped_price_file(args.region))
    result = recommend(workload, prices, options, targets)
    network = network_cost(prices, options)
    bands = cheapest_bands(workload, prices, options, targets)
    if args.plot:
        from .plot import plot_costs

        title = ("The published comparison's inputs: Lambda 1.875 s a request at 3 GB; Fargate vCPU-hours + $16 ALB"
                 if args.published else "")
        plot_costs(args.plot, workload, prices, options, targets, title=title)

    if args.json:
        data = {
            "command": args.command,
            "prices": {"region": prices.region, "currency": prices.currency, "date": prices.date, "source": dict(prices.source),
                       "hours_per_month": prices.hours_per_month},
            "workload": {**dataclasses.asdict(workload), "mean_rps": workload.mean_rps, "peak_rps": workload.peak_rps},
            "options": dataclasses.asdict(options),
            "estimates": {t: e.to_dict() for t, e in result.estimates.items()},
            "network": dataclasses.asdict(network),
            "crossovers": [c.to_dict() for c in result.crossovers],
            "cheapest_by_traffic": [b.to_dict() for b in bands],
            "recommendation": result.to_dict(),
            "timings": timings_source(args),
        }
        if args.published:
            data["published"] = {t: {"published_usd": published.PUBLISHED[t],
                                     "model_usd": result.estimates[t].monthly_usd,
                                     "difference": result.estimates[t].monthly_usd / published.PUBLISHED[t] - 1}
                                 for t in published.TARGETS if t in result.estimates}
        if args.plot:
            data["plot"] = args.plot
        print(json.dumps(_round(data), indent=2))
        return 0

    if args.command == "recommend":
        print(f"Recommendation: {result.estimates[result.target].name if result.target else 'none'}")
        for reason in result.reasons:
            print(f"  {reason}")
        print()
    _print_table(workload, options, prices, result, network, bands, args)
    return 0


def _print_table(workload, options, prices, result, network, bands, args) -> None:
    high, fraction, low = workload.profile()
    print(f"{workload.requests_per_day:,.0f} requests/day, {workload.shape}: mean {workload.mean_rps:.2f} req/s, "
          f"peak {workload.peak_rps:.2f} req/s; {workload.items_per_request:g} item(s)/request, "
          f"{workload.seconds_per_request * 1000:,.0f} ms/request, p99 target {workload.p99_target_ms:,.0f} ms")
    print(f"Prices: {prices.region} on-demand, {prices.date} ({prices.hours_per_month:g} h a month)")
    print(f"Timings: {timings_source(args)}\n")
    header = f"{'target':<22}{'$/month':>10}{'$/1k pred':>11}{'replicas pk/avg':>17}{'p99 ms':>9}  holds"
    print(header)
    print("-" * len(header))
    for estimate in result.estimates.values():
        per_1000 = f"{estimate.cost_per_1000_predictions:.4f}" if estimate.cost_per_1000_predictions is not None else "-"
        holds = "yes" if estimate.ok else ("no: latency" if not estimate.latency_ok else "no: capacity")
        replicas = f"{estimate.replicas_peak:,.1f} / {estimate.replicas_mean:,.1f}"
        print(f"{estimate.name:<22}{estimate.monthly_usd:>10,.2f}{per_1000:>11}{replicas:>17}{estimate.p99_ms:>9,.0f}  {holds}")
    print()
    print(f"Shared network (apart{'' if not options.count_network else ', added to Fargate and EKS'}): "
          f"${network.monthly_usd:,.2f}/month = {network.nat_gateways} NAT gateway(s) ${network.items['nat_gateways']:,.2f}"
          f" + {network.interface_endpoints} interface endpoints x {network.availability_zones} AZs "
          f"${network.items['interface_endpoints']:,.2f}; Fargate and EKS run in it, Lambda and SageMaker do not.")
    if result.crossovers:
        print("Crossovers (the first per pair):")
        for cross in result.crossovers:
            print(f"  {cross.requests_per_day:>12,.0f} requests/day: {result.estimates[cross.cheaper_below].name} cheaper below, "
                  f"{result.estimates[cross.cheaper_above].name} above (${cross.monthly_usd:,.2f}/month)")
    print("Cheapest target that holds, by traffic:")
    for band in bands:
        print(f"  {band.from_requests_per_day:>12,.0f} - {band.to_requests_per_day:>12,.0f} requests/day: "
              f"{result.estimates[band.target].name}")
    if args.published:
        print("Published comparison at 10,000 requests/day:")
        for target in published.TARGETS:
            if target in result.estimates:
                model = result.estimates[target].monthly_usd
                print(f"  {result.estimates[target].name:<10} published ${published.PUBLISHED[target]:>7,.2f}  "
                      f"model ${model:>7,.2f}  ({model / published.PUBLISHED[target] - 1:+.2%})")
    if args.plot:
        print(f"Plot: {args.plot}")
    for estimate in result.estimates.values():
        for note in estimate.notes:
            print(f"  [{estimate.name}] {note}")


def main(argv: Optional[Sequence[str]] = None) -> int:
    try:
        return run(argv)
    except InputError as error:
        return _fail(str(error))
    except BrokenPipeError:  # `| head`
        return 0


if __name__ == "__main__":
    sys.exit(main())
