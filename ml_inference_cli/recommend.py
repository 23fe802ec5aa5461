"""Pick a target for a workload and say why, in a few plain sentences."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Optional

from .model import (
    Crossover,
    Estimate,
    NetworkCost,
    Options,
    TARGET_NAMES,
    Workload,
    cost_at,
    crossovers,
    estimate_all,
    network_cost,
    ranking_cost,
)
from .prices import Prices


@dataclass(frozen=True)
class Recommendation:
    target: Optional[str]
    reasons: tuple[str, ...]
    estimates: Mapping[str, Estimate]
    crossovers: tuple[Crossover, ...]
    network: NetworkCost

    @property
    def text(self) -> str:
        return " ".join(self.reasons)

    def to_dict(self) -> dict:
        return {
            "target": self.target,
            "reasons": list(self.reasons),
            "text": self.text,
        }


def _money(value: float) -> str:
    return f"${value:,.2f}"


def _traffic(value: float) -> str:
    return f"{value:,.0f}" if value < 10_000 else f"{round(value, -2):,.0f}"


#: How far the swap search looks, in requests/day (the sweep's range).
_LOW, _HIGH = 100.0, 10_000_000.0
_STEP = 1.02


def nearest_swap(best: str, other: str, workload: Workload, prices: Prices, options: Options, *,
                 upward: bool) -> Optional[float]:
    """The traffic nearest to `workload`'s, above it (`upward`) or below it, at which `other` becomes
    cheaper than `best`; None if it never does in the sweep's range. Replica targets cost in steps,
    so a pair can swap several times: this is the swap the current traffic runs into first."""
    network = network_cost(prices, options)

    def cheaper(x: float) -> bool:
        return cost_at(other, x, workload, prices, options, network) < cost_at(best, x, workload, prices, options, network)

    here = workload.requests_per_day
    factor = _STEP if upward else 1 / _STEP
    previous, x = here, here * factor
    while _LOW <= x <= _HIGH:
        if cheaper(x):
            near, far = previous, x  # cheaper() is False at `near`, True at `far`: bisect the edge
            while max(near, far) / min(near, far) > 1.001:
                mid = math.sqrt(near * far)
                near, far = (near, mid) if cheaper(mid) else (mid, far)
            return far
        previous, x = x, x * factor
    return None


def recommend(workload: Workload, prices: Prices, options: Options, targets: Sequence[str]) -> Recommendation:
    estimates = estimate_all(workload, prices, options, targets)
    network = network_cost(prices, options)
    found = crossovers(workload, prices, options, list(estimates))
    cost = {t: ranking_cost(e, network, options) for t, e in estimates.items()}
    holding = sorted((e for e in estimates.values() if e.ok), key=lambda e: cost[e.target])
    rpd = _traffic(workload.requests_per_day)
    if not holding:
        closest = min(estimates.values(), key=lambda e: e.p99_ms)
        reasons = (
            f"No target holds a p99 of {workload.p99_target_ms:,.0f} ms at {rpd} requests/day.",
            f"The closest is {closest.name} at about {closest.p99_ms:,.0f} ms.",
            "Relax the target, add provisioned concurrency, or make the model faster (`make bench` shows where the time goes).",
        )
        return Recommendation(None, reasons, estimates, tuple(found), network)

    best = holding[0]
    reasons = [f"{best.name}: {_money(cost[best.target])} a month at {rpd} requests/day"
               + (f" (${best.cost_per_1000_predictions:.4f} per 1,000 predictions)" if best.cost_per_1000_predictions else "")
               + f", the cheapest of the targets that hold a p99 of {workload.p99_target_ms:,.0f} ms."]
    if len(holding) > 1:
        runner_up = holding[1]
        ratio = cost[runner_up.target] / cost[best.target] if cost[best.target] else float("inf")
        reasons.append(f"{runner_up.name} comes next at {_money(cost[runner_up.target])}"
                       + (f" ({ratio:.1f}x)." if ratio != float("inf") else "."))
        swap = nearest_swap(best.target, runner_up.target, workload, prices, options, upward=True)
        if swap is not None:
            reasons.append(f"Above about {_traffic(swap)} requests/day {runner_up.name} becomes the cheaper one.")
        else:
            swap = nearest_swap(best.target, runner_up.target, workload, prices, options, upward=False)
            if swap is not None:
                reasons.append(f"Below about {_traffic(swap)} requests/day {runner_up.name} would be the cheaper one.")
    failing = [e for e in estimates.values() if not e.ok and cost[e.target] < cost[best.target]]
    for estimate in failing[:2]:
        why = (f"its p99 would be about {estimate.p99_ms:,.0f} ms" if not estimate.latency_ok
               else "it cannot carry the peak")
        reasons.append(f"{estimate.name} would cost less ({_money(cost[estimate.target])}), but {why}.")
    if best.target == "lambda":
        reasons.append("It scales to zero and needs no VPC; cold starts stay rare at this traffic"
                       if best.p99_ms < workload.p99_target_ms else "")
    if best.needs_network and not options.count_network:
        reasons.append(f"It runs in the shared VPC: the network adds {_money(network.monthly_usd)} a month "
                       f"({network.nat_gateways} NAT gateway(s), {network.interface_endpoints} interface endpoints) if nothing else pays for it.")
    return Recommendation(best.target, tuple(r if r.endswith(".") else r + "." for r in reasons if r),
                          estimates, tuple(found), network)


__all__ = ["Recommendation", "recommend", "TARGET_NAMES"]
