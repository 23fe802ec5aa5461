"""`--plot FILE.png`: monthly cost against requests/day for every target, crossovers marked."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Union

from .model import TARGET_NAMES, Options, Workload, crossovers, network_cost, sweep
from .prices import InputError, Prices

COLORS = {
    "lambda": "#e7871e",
    "fargate": "#2f6fb3",
    "eks": "#7b4ea3",
    "sagemaker-realtime": "#2a9d6f",
    "sagemaker-serverless": "#86c5a4",
    "sagemaker-async": "#8c8c8c",
}
STYLES = {"sagemaker-serverless": "--", "sagemaker-async": ":"}


def plot_costs(path: Union[str, Path], workload: Workload, prices: Prices, options: Options, targets: Sequence[str],
               low: float = 100, high: float = 10_000_000, title: str = "") -> Path:
    """Write the chart to `path` (PNG) and return it."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import FuncFormatter
    except ImportError:  # pragma: no cover - matplotlib is in requirements-dev.txt
        raise InputError("--plot needs matplotlib: pip install matplotlib") from None
    out = Path(path)
    if out.suffix.lower() != ".png":
        raise InputError(f"--plot writes a PNG: give a file name ending in .png, not {out.name!r}")
    if not out.parent.exists():
        raise InputError(f"--plot: folder {out.parent} does not exist")

    xs, costs = sweep(workload, prices, options, targets, low, high)
    fig, ax = plt.subplots(figsize=(10, 6.2), dpi=120)
    for target in targets:
        ax.plot(xs, costs[target], label=TARGET_NAMES[target], color=COLORS[target],
                linestyle=STYLES.get(target, "-"), linewidth=2.2 if target in ("lambda", "fargate", "eks") else 1.6)

    network = network_cost(prices, options)
    if network.monthly_usd and not options.count_network:
        ax.axhline(network.monthly_usd, color="#9a9a9a", linewidth=1, linestyle=(0, (4, 3)), zorder=0,
                   label=f"shared network, fixed ${network.monthly_usd:,.0f}/month\n"
                         "(NAT + endpoints; Fargate and EKS need it;\nnot in their lines)")

    # Label the crossovers of the main three (Lambda, Fargate, EKS); the others get a plain dot.
    main = {"lambda", "fargate", "eks"}
    labelled = 0
    for cross in crossovers(workload, prices, options, targets, low, high):
        pair = {cross.cheaper_below, cross.cheaper_above}
        if pair <= main:
            ax.plot([cross.requests_per_day], [cross.monthly_usd], marker="o", markersize=8, color="black", zorder=6,
                    markerfacecolor="white", markeredgewidth=1.8)
            label = (f"{TARGET_NAMES[cross.cheaper_below]} = {TARGET_NAMES[cross.cheaper_above]}\n"
                     f"{cross.requests_per_day:,.0f} req/day, ${cross.monthly_usd:,.0f}/month")
            above = labelled % 2 == 0
            ax.annotate(label, (cross.requests_per_day, cross.monthly_usd), xytext=(-28, 34) if above else (28, -34),
                        textcoords="offset points", ha="right" if above else "left", va="center", fontsize=8.5,
                        bbox={"boxstyle": "round,pad=0.3", "facecolor": "white", "edgecolor": "#999999", "linewidth": 0.6},
                        arrowprops={"arrowstyle": "-", "color": "#444444", "linewidth": 0.8}, zorder=7)
            labelled += 1
        else:
            ax.plot([cross.requests_per_day], [cross.monthly_usd], marker="o", markersize=4, color="#555555", zorder=5,
                    markerfacecolor="white", markeredgewidth=1)

    ax.axvline(workload.requests_per_day, color="#d04040", linewidth=1, alpha=0.6)
    ax.annotate(f"your traffic: {workload.requests_per_day:,.0f}/day", (workload.requests_per_day, 1),
                xycoords=("data", "axes fraction"), xytext=(4, -14), textcoords="offset points", fontsize=8, color="#d04040")

    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(low, high)
    money = FuncFormatter(lambda v, _: f"${v:,.0f}" if v >= 1 else f"${v:.2f}")
    ax.yaxis.set_major_formatter(money)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_xlabel("requests per day (log)")
    ax.set_ylabel(f"monthly cost, {prices.currency} (log)")
    ax.grid(True, which="major", color="#e6e6e6")
    ax.grid(True, which="minor", color="#f3f3f3", linewidth=0.6)
    ax.set_title(title or f"Monthly cost by target, {workload.shape} traffic, {prices.region} on-demand ({prices.date})",
                 fontsize=11)
    caption = (f"{workload.items_per_request:g} item(s)/request, {workload.seconds_per_request * 1000:,.0f} ms/request on "
               f"{workload.reference_vcpus:g} vCPU, {workload.throughput_rps:,.1f} req/s per replica, "
               f"Lambda {options.lambda_memory_mb} MB, Fargate {options.fargate_vcpu:g} vCPU/{options.fargate_memory_gb:g} GB, "
               f"EKS {options.eks_node_type}, SageMaker {options.sagemaker_instance_type}; autoscaling at "
               f"{options.target_utilization:.0%}. Prices: {prices.date}, see docs/cost-model.md.")
    fig.text(0.01, 0.01, caption, fontsize=7, color="#606060", wrap=True)
    ax.legend(loc="lower right", fontsize=8.5, frameon=True, framealpha=0.95)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    fig.savefig(out)
    plt.close(fig)
    return out
