"""The cost and capacity model: what each target costs a month for a workload, and whether it holds.

Every price comes from a :class:`~.prices.Prices` sheet; this module holds only arithmetic and the
assumptions below, each a field with a default that the CLI can change.

Traffic is a two-level profile (``high_rps`` for ``high_fraction`` of the time, ``low_rps`` the rest):
steady traffic is one level; business hours put the day's traffic into 10 h of 5 days a week; bursty
traffic runs at ``peak_factor`` x the mean for ``burst_fraction`` of the time. Replica targets scale
between the two levels (autoscaling), so they pay for the time-weighted replica count; Lambda and
SageMaker serverless pay per request.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Optional

from .prices import InputError, Prices

TARGETS = ("lambda", "fargate", "eks", "sagemaker-realtime", "sagemaker-serverless", "sagemaker-async")
SHAPES = ("steady", "business-hours", "bursty")
TARGET_NAMES = {
    "lambda": "Lambda",
    "fargate": "Fargate",
    "eks": "EKS",
    "sagemaker-realtime": "SageMaker real-time",
    "sagemaker-serverless": "SageMaker serverless",
    "sagemaker-async": "SageMaker async",
}
# Business hours: 10 h a day, 5 days a week.
BUSINESS_FRACTION = (10 / 24) * (5 / 7)
# Lambda gives 1 vCPU per 1,769 MB of memory (up to 6 at 10,240 MB).
LAMBDA_MB_PER_VCPU = 1769
LAMBDA_MEMORY_SIZES = (1769, 3008, 4096, 6144, 10240)
SECONDS_PER_HOUR = 3600
# SageMaker async: the S3 round trip of a request and its answer, and the least p99 it is meant for.
ASYNC_DELIVERY_S = 1.0
ASYNC_MIN_TARGET_S = 60.0


def _finite(instance: object) -> None:
    for item in fields(instance):  # type: ignore[arg-type]
        value = getattr(instance, item.name)
        if isinstance(value, float) and not math.isfinite(value):
            raise InputError(f"{item.name.replace('_', ' ')} must be a finite number, got {value!r}")


@dataclass(frozen=True)
class Workload:
    """What the service must carry, and how fast it answers on one reference replica."""

    requests_per_day: float = 10_000
    shape: str = "steady"
    #: bursty: the peak is this many times the mean (business hours: derived, 3.36)
    peak_factor: float = 5.0
    #: bursty: share of the time spent at the peak
    burst_fraction: float = 0.1
    items_per_request: float = 1.0
    #: service time of one request (of the mean size) on one reference replica, seconds
    seconds_per_request: float = 0.25
    #: requests per second one reference replica sustains (None: 1 / seconds_per_request)
    replica_rps: Optional[float] = None
    #: vCPUs of the replica that measured the two figures above (`make bench` runs on 2)
    reference_vcpus: float = 2.0
    #: warm p99 latency of one request on an idle replica, ms (None: 2 x seconds_per_request)
    warm_p99_ms: Optional[float] = None
    #: a new Lambda environment / serverless container: start to first answer, seconds
    cold_start_s: float = 3.5
    p99_target_ms: float = 1000.0
    #: request + response size, for per-GB data charges (SageMaker serverless/async)
    bytes_per_request: float = 2000.0

    def __post_init__(self) -> None:
        _finite(self)

        def positive(name: str, value: float, allow_zero: bool = False) -> None:
            if value is None or isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) \
                    or value < 0 or (value == 0 and not allow_zero):
                raise InputError(f"{name.replace('_', ' ')} must be {'zero or more' if allow_zero else 'positive'}, got {value!r}")

        positive("requests_per_day", self.requests_per_day, allow_zero=True)
        if self.shape not in SHAPES:
            raise InputError(f"unknown traffic shape {self.shape!r}: use one of {', '.join(SHAPES)}")
        if self.peak_factor < 1:
            raise InputError(f"peak factor must be 1 or more, got {self.peak_factor!r}")
        if not 0 < self.burst_fraction <= 1:
            raise InputError(f"burst fraction must be above 0 and at most 1, got {self.burst_fraction!r}")
        for name in ("items_per_request", "seconds_per_request", "reference_vcpus", "p99_target_ms"):
            positive(name, getattr(self, name))
        positive("cold_start_s", self.cold_start_s, allow_zero=True)
        positive("bytes_per_request", self.bytes_per_request, allow_zero=True)
        for name in ("replica_rps", "warm_p99_ms"):
            if getattr(self, name) is not None:
                positive(name, getattr(self, name))

    @property
    def mean_rps(self) -> float:
        return self.requests_per_day / 86_400

    @property
    def throughput_rps(self) -> float:
        return self.replica_rps if self.replica_rps is not None else 1 / self.seconds_per_request

    @property
    def warm_p99_s(self) -> float:
        return self.warm_p99_ms / 1000 if self.warm_p99_ms is not None else 2 * self.seconds_per_request

    def profile(self) -> tuple[float, float, float]:
        """(high_rps, high_fraction, low_rps): the traffic as two levels."""
        mean = self.mean_rps
        if self.shape == "steady":
            return mean, 1.0, mean
        if self.shape == "business-hours":
            return mean / BUSINESS_FRACTION, BUSINESS_FRACTION, 0.0
        fraction = min(self.burst_fraction, 1 / self.peak_factor)
        high = mean * self.peak_factor
        low = max(0.0, (mean - high * fraction) / (1 - fraction)) if fraction < 1 else high
        return high, fraction, low

    @property
    def peak_rps(self) -> float:
        return self.profile()[0]

    @property
    def effective_peak_factor(self) -> float:
        return self.peak_rps / self.mean_rps if self.mean_rps else 1.0


@dataclass(frozen=True)
class Options:
    """How each target is configured; defaults follow this project's stacks (dev stage)."""

    architecture: str = "x86_64"
    lambda_memory_mb: int = 3008
    lambda_provisioned_concurrency: int = 0
    #: override the billed Lambda duration per request (None: seconds_per_request scaled to Lambda's vCPUs)
    lambda_seconds_per_request: Optional[float] = None
    fargate_vcpu: float = 2.0
    fargate_memory_gb: float = 4.0
    fargate_min_tasks: int = 1
    #: share of tasks on Fargate Spot (0-1)
    fargate_spot_share: float = 0.0
    #: autoscaling keeps replicas at this utilization (the stacks scale on CPU 70%)
    target_utilization: float = 0.7
    eks_node_type: str = "t3.large"
    eks_min_nodes: int = 2
    #: vCPUs of a node that the inference pods can use (the rest: kubelet, DaemonSets)
    eks_node_reserved_vcpu: float = 0.0
    eks_node_disk_gb: float = 20.0
    eks_load_balancer: bool = True
    sagemaker_instance_type: str = "ml.c5.large"
    sagemaker_min_instances: int = 1
    sagemaker_serverless_memory_mb: int = 3072
    #: SageMaker async scales to zero; a scaled-in endpoint needs this long to answer again
    sagemaker_async_start_s: float = 300.0
    #: ALB per month: None prices it from the sheet (hour + LCUs)
    alb_monthly_override: Optional[float] = None
    #: reproduce comparisons that leave Fargate's GB-hours out (see docs/cost-model.md)
    fargate_charge_memory: bool = True
    #: the shared network: NAT gateways and interface endpoints (one per AZ each)
    nat_gateways: int = 1
    interface_endpoints: int = 5
    availability_zones: int = 2
    #: add the shared network to the targets that run in the VPC (Fargate, EKS) when ranking
    count_network: bool = False

    def __post_init__(self) -> None:
        _finite(self)
        if self.architecture not in ("x86_64", "arm64"):
            raise InputError(f"unknown architecture {self.architecture!r}: use x86_64 or arm64")
        if not 128 <= self.lambda_memory_mb <= 10_240:
            raise InputError(f"Lambda memory must be 128-10240 MB, got {self.lambda_memory_mb!r}")
        if not 1024 <= self.sagemaker_serverless_memory_mb <= 6144:
            raise InputError(f"SageMaker serverless memory must be 1024-6144 MB, got {self.sagemaker_serverless_memory_mb!r}")
        if not 0 <= self.fargate_spot_share <= 1:
            raise InputError(f"Fargate Spot share must be between 0 and 1, got {self.fargate_spot_share!r}")
        if not 0 < self.target_utilization <= 1:
            raise InputError(f"target utilization must be above 0 and at most 1, got {self.target_utilization!r}")
        for name in ("lambda_provisioned_concurrency", "fargate_min_tasks", "eks_min_nodes", "sagemaker_min_instances",
                     "nat_gateways", "interface_endpoints", "availability_zones"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InputError(f"{name.replace('_', ' ')} must be a whole number, zero or more, got {value!r}")
        if self.fargate_vcpu <= 0 or self.fargate_memory_gb <= 0:
            raise InputError("Fargate vCPU and memory must be positive")


@dataclass(frozen=True)
class Estimate:
    """One target's month."""

    target: str
    monthly_usd: float
    #: line items that add up to monthly_usd
    items: Mapping[str, float]
    replicas_peak: float
    replicas_mean: float
    p99_ms: float
    latency_ok: bool
    capacity_ok: bool
    needs_network: bool
    notes: tuple[str, ...] = ()
    cost_per_1000_predictions: Optional[float] = None

    @property
    def name(self) -> str:
        return TARGET_NAMES[self.target]

    @property
    def ok(self) -> bool:
        return self.latency_ok and self.capacity_ok

    def to_dict(self) -> dict:
        data = asdict(self)
        data["items"] = {k: round(v, 4) for k, v in self.items.items()}
        data["notes"] = list(self.notes)
        data["name"] = self.name
        return data


@dataclass(frozen=True)
class NetworkCost:
    nat_gateways: int
    interface_endpoints: int
    availability_zones: int
    monthly_usd: float
    items: Mapping[str, float] = field(default_factory=dict)


def network_cost(prices: Prices, options: Options) -> NetworkCost:
    """The shared network's fixed month (data charges aside): NAT gateways and interface endpoints."""
    hours = prices.hours_per_month
    nat = options.nat_gateways * prices.nat_gateway_hour * hours
    endpoints = options.interface_endpoints * options.availability_zones * prices.interface_endpoint_hour * hours
    return NetworkCost(options.nat_gateways, options.interface_endpoints, options.availability_zones, nat + endpoints,
                       {"nat_gateways": nat, "interface_endpoints": endpoints})


def _replicas(rps: float, per_replica_rps: float, utilization: float, minimum: int) -> int:
    return max(minimum, math.ceil(rps / (per_replica_rps * utilization) - 1e-9)) if rps > 0 else minimum


def _autoscaled(workload: Workload, per_replica_rps: float, utilization: float, minimum: int) -> tuple[int, float]:
    """(replicas at the peak, time-weighted mean replicas) for the traffic profile."""
    high, fraction, low = workload.profile()
    at_high = _replicas(high, per_replica_rps, utilization, minimum)
    at_low = _replicas(low, per_replica_rps, utilization, minimum)
    return at_high, fraction * at_high + (1 - fraction) * at_low


def _queueing_p99(workload: Workload, utilization: float) -> float:
    """p99 on a replica at `utilization`: the idle p99 stretched by queueing (M/M/1's 1/(1-rho))."""
    return workload.warm_p99_s / max(1 - min(utilization, 0.95), 0.05)


def _alb(prices: Prices, options: Options, workload: Workload) -> float:
    if options.alb_monthly_override is not None:
        return options.alb_monthly_override
    # One LCU carries 25 new connections/s; each request counts as a new connection (no keep-alive).
    lcus = workload.mean_rps / 25
    return (prices.alb_hour + lcus * prices.alb_lcu_hour) * prices.hours_per_month


def _cold_fraction(workload: Workload, concurrency_peak: float, provisioned: int) -> float:
    """Share of requests that start a new execution environment (Lambda, SageMaker serverless).

    An idle environment is reclaimed after roughly 10 minutes, environments are recycled every few
    hours (12 a day each, counted), and each rise from the low to the high traffic level starts the
    difference. Provisioned environments never start cold.
    """
    rpd = workload.requests_per_day
    if rpd <= 0:
        return 0.0
    high, fraction, low = workload.profile()
    if provisioned >= max(1, math.ceil(concurrency_peak)):
        return 0.0
    per_env_rate = workload.mean_rps / max(1.0, concurrency_peak)
    idle_reclaim = math.exp(-per_env_rate * 600)
    environments = max(1, math.ceil(concurrency_peak)) - provisioned
    recycled = environments * 12
    # Business hours start once a working day; bursts are taken to last 10 minutes each.
    rises_per_day = {"steady": 0.0, "business-hours": 5 / 7, "bursty": fraction * 24 * 6}[workload.shape]
    seconds = workload.seconds_per_request
    scale_ups = rises_per_day * max(0.0, math.ceil(high * seconds) - math.ceil(low * seconds))
    return min(1.0, idle_reclaim + (recycled + scale_ups) / rpd)


def _per_1000(monthly: float, workload: Workload, prices: Prices) -> Optional[float]:
    predictions = workload.requests_per_day * prices.days_per_month * workload.items_per_request
    return monthly / predictions * 1000 if predictions else None


def lambda_seconds(workload: Workload, options: Options) -> float:
    """Billed seconds per request: the reference replica's time, slower when Lambda has fewer vCPUs."""
    if options.lambda_seconds_per_request is not None:
        return options.lambda_seconds_per_request
    vcpus = options.lambda_memory_mb / LAMBDA_MB_PER_VCPU
    return workload.seconds_per_request * max(1.0, workload.reference_vcpus / vcpus)


def estimate_lambda(workload: Workload, prices: Prices, options: Options) -> Estimate:
    arch, hours = options.architecture, prices.hours_per_month
    gb = options.lambda_memory_mb / 1024
    seconds = lambda_seconds(workload, options)
    requests = workload.requests_per_day * prices.days_per_month
    pc = options.lambda_provisioned_concurrency
    concurrency_peak = workload.peak_rps * seconds
    mean_concurrency = workload.mean_rps * seconds
    on_pc = min(1.0, pc / mean_concurrency) if pc and mean_concurrency else (1.0 if pc else 0.0)
    items = {
        "requests": requests / 1e6 * prices.lambda_request_per_million,
        "duration": requests * (1 - on_pc) * seconds * gb * prices.lambda_gb_second[arch],
    }
    if pc:
        items["provisioned_concurrency"] = pc * gb * hours * SECONDS_PER_HOUR * prices.lambda_provisioned_gb_second[arch]
        items["provisioned_duration"] = requests * on_pc * seconds * gb * prices.lambda_provisioned_duration_gb_second[arch]
    cold = _cold_fraction(replace(workload, seconds_per_request=seconds), concurrency_peak, pc)
    warm_p99 = workload.warm_p99_s * seconds / workload.seconds_per_request
    p99 = warm_p99 + (workload.cold_start_s if cold > 0.01 else 0.0)
    notes = [f"{options.lambda_memory_mb} MB ({options.lambda_memory_mb / LAMBDA_MB_PER_VCPU:.1f} vCPU), "
             f"{seconds * 1000:.0f} ms billed per request, peak concurrency {concurrency_peak:.1f}",
             f"cold starts: {cold:.1%} of requests" + (" (they set the p99)" if cold > 0.01 else "")]
    if pc:
        notes.append(f"{pc} provisioned environments")
    if options.lambda_seconds_per_request is None:
        by_memory = []
        for mb in LAMBDA_MEMORY_SIZES:
            other = replace(options, lambda_memory_mb=mb)
            cost = requests * (prices.lambda_request_per_million / 1e6
                               + lambda_seconds(workload, other) * mb / 1024 * prices.lambda_gb_second[arch])
            by_memory.append(f"{mb} MB ${cost:,.2f}")
        notes.append("without provisioned concurrency, by memory: " + ", ".join(by_memory))
    monthly = sum(items.values())
    return Estimate("lambda", monthly, items, concurrency_peak, mean_concurrency, p99 * 1000,
                    p99 * 1000 <= workload.p99_target_ms, True, False, tuple(notes), _per_1000(monthly, workload, prices))


def estimate_fargate(workload: Workload, prices: Prices, options: Options) -> Estimate:
    arch, hours = options.architecture, prices.hours_per_month
    per_task_rps = workload.throughput_rps * options.fargate_vcpu / workload.reference_vcpus
    peak, mean = _autoscaled(workload, per_task_rps, options.target_utilization, options.fargate_min_tasks)
    spot = options.fargate_spot_share
    price_factor = (1 - spot) + spot * (1 - prices.fargate_spot_discount)
    items = {
        "vcpu": mean * options.fargate_vcpu * prices.fargate_vcpu_hour[arch] * hours * price_factor,
        "memory": (mean * options.fargate_memory_gb * prices.fargate_gb_hour[arch] * hours * price_factor
                   if options.fargate_charge_memory else 0.0),
        "load_balancer": _alb(prices, options, workload),
    }
    utilization = workload.peak_rps / (peak * per_task_rps) if peak else 0.0
    p99 = _queueing_p99(workload, utilization)
    notes = [f"{peak} task(s) of {options.fargate_vcpu:g} vCPU / {options.fargate_memory_gb:g} GB at the peak, "
             f"{mean:.2f} on average; {per_task_rps:.1f} requests/s per task"]
    if spot:
        notes.append(f"{spot:.0%} on Fargate Spot")
    if not options.fargate_charge_memory:
        notes.append("GB-hours left out, as the published comparison does")
    monthly = sum(items.values())
    return Estimate("fargate", monthly, items, peak, mean, p99 * 1000, p99 * 1000 <= workload.p99_target_ms,
                    peak > 0, True, tuple(notes), _per_1000(monthly, workload, prices))


def _instance(table: Mapping, name: str, what: str):
    if name not in table:
        raise InputError(f"unknown {what} {name!r}: the price sheet has {', '.join(sorted(table))}")
    return table[name]


def estimate_eks(workload: Workload, prices: Prices, options: Options) -> Estimate:
    hours = prices.hours_per_month
    node = _instance(prices.ec2, options.eks_node_type, "EC2 instance type")
    usable = node.vcpu - options.eks_node_reserved_vcpu
    if usable <= 0:
        raise InputError("EKS node reserved vCPU leaves nothing for the pods")
    per_node_rps = workload.throughput_rps * usable / workload.reference_vcpus
    peak, mean = _autoscaled(workload, per_node_rps, options.target_utilization, options.eks_min_nodes)
    items = {
        "control_plane": prices.eks_cluster_hour * hours,
        "nodes": mean * node.hour * hours,
        "node_disks": mean * options.eks_node_disk_gb * prices.ebs_gp3_gb_month,
        "load_balancer": _alb(prices, options, workload) if options.eks_load_balancer else 0.0,
    }
    utilization = workload.peak_rps / (peak * per_node_rps) if peak else 0.0
    p99 = _queueing_p99(workload, utilization)
    notes = [f"{peak} x {options.eks_node_type} at the peak, {mean:.2f} on average; {per_node_rps:.1f} requests/s per node"]
    monthly = sum(items.values())
    return Estimate("eks", monthly, items, peak, mean, p99 * 1000, p99 * 1000 <= workload.p99_target_ms,
                    peak > 0, True, tuple(notes), _per_1000(monthly, workload, prices))


def estimate_sagemaker_realtime(workload: Workload, prices: Prices, options: Options) -> Estimate:
    hours = prices.hours_per_month
    instance = _instance(prices.sagemaker_realtime, options.sagemaker_instance_type, "SageMaker instance type")
    per_instance_rps = workload.throughput_rps * instance.vcpu / workload.reference_vcpus
    minimum = max(1, options.sagemaker_min_instances)
    peak, mean = _autoscaled(workload, per_instance_rps, options.target_utilization, minimum)
    data_gb = workload.requests_per_day * prices.days_per_month * workload.bytes_per_request / 1e9
    items = {"instances": mean * instance.hour * hours, "data_processed": data_gb * prices.sagemaker_data_processed_gb}
    utilization = workload.peak_rps / (peak * per_instance_rps) if peak else 0.0
    p99 = _queueing_p99(workload, utilization)
    notes = [f"{peak} x {options.sagemaker_instance_type} at the peak, {mean:.2f} on average"]
    monthly = sum(items.values())
    return Estimate("sagemaker-realtime", monthly, items, peak, mean, p99 * 1000, p99 * 1000 <= workload.p99_target_ms,
                    True, False, tuple(notes), _per_1000(monthly, workload, prices))


def estimate_sagemaker_serverless(workload: Workload, prices: Prices, options: Options) -> Estimate:
    gb = options.sagemaker_serverless_memory_mb / 1024
    vcpus = options.sagemaker_serverless_memory_mb / LAMBDA_MB_PER_VCPU
    seconds = workload.seconds_per_request * max(1.0, workload.reference_vcpus / vcpus)
    requests = workload.requests_per_day * prices.days_per_month
    data_gb = requests * workload.bytes_per_request / 1e9
    items = {"compute": requests * seconds * gb * prices.sagemaker_serverless_gb_second,
             "data_processed": data_gb * prices.sagemaker_data_processed_gb}
    concurrency_peak = workload.peak_rps * seconds
    cold = _cold_fraction(replace(workload, seconds_per_request=seconds), concurrency_peak, 0)
    # Serverless endpoints pull the image and load the model on a cold start: slower than Lambda's.
    cold_start = 2 * workload.cold_start_s
    p99 = workload.warm_p99_s * seconds / workload.seconds_per_request + (cold_start if cold > 0.01 else 0.0)
    capacity_ok = concurrency_peak <= 200
    notes = [f"{options.sagemaker_serverless_memory_mb} MB, {seconds * 1000:.0f} ms per request, "
             f"peak concurrency {concurrency_peak:.1f} (at most 200)", f"cold starts: {cold:.1%} of requests"]
    monthly = sum(items.values())
    return Estimate("sagemaker-serverless", monthly, items, concurrency_peak, workload.mean_rps * seconds, p99 * 1000,
                    p99 * 1000 <= workload.p99_target_ms, capacity_ok, False, tuple(notes), _per_1000(monthly, workload, prices))


def estimate_sagemaker_async(workload: Workload, prices: Prices, options: Options) -> Estimate:
    hours = prices.hours_per_month
    instance = _instance(prices.sagemaker_realtime, options.sagemaker_instance_type, "SageMaker instance type")
    per_instance_rps = workload.throughput_rps * instance.vcpu / workload.reference_vcpus
    high, fraction, low = workload.profile()
    # Scales to zero between bursts of work; keeps instances up while traffic flows.
    active_high = _replicas(high, per_instance_rps, 1.0, 0)
    active_low = _replicas(low, per_instance_rps, 1.0, 0)
    mean = fraction * active_high + (1 - fraction) * active_low
    data_gb = workload.requests_per_day * prices.days_per_month * workload.bytes_per_request / 1e9
    items = {"instances": mean * instance.hour * hours, "data_processed": data_gb * prices.sagemaker_data_processed_gb}
    # Answers land in S3 (the caller polls or gets a notification): seconds at best, minutes from zero.
    p99 = options.sagemaker_async_start_s if active_low == 0 else workload.warm_p99_s + ASYNC_DELIVERY_S
    notes = [f"queue-based: answers land in S3; scaled to zero the first request waits ~{options.sagemaker_async_start_s:.0f} s",
             f"for callers that can wait (p99 target of {ASYNC_MIN_TARGET_S:.0f} s or more), not for an interactive API"]
    monthly = sum(items.values())
    latency_ok = p99 * 1000 <= workload.p99_target_ms and workload.p99_target_ms >= ASYNC_MIN_TARGET_S * 1000
    return Estimate("sagemaker-async", monthly, items, active_high, mean, p99 * 1000, latency_ok,
                    True, False, tuple(notes), _per_1000(monthly, workload, prices))


ESTIMATORS = {
    "lambda": estimate_lambda,
    "fargate": estimate_fargate,
    "eks": estimate_eks,
    "sagemaker-realtime": estimate_sagemaker_realtime,
    "sagemaker-serverless": estimate_sagemaker_serverless,
    "sagemaker-async": estimate_sagemaker_async,
}


def check_targets(targets: Optional[Iterable[str]]) -> tuple[str, ...]:
    chosen = tuple(targets) if targets else TARGETS
    unknown = [t for t in chosen if t not in ESTIMATORS]
    if unknown:
        raise InputError(f"unknown target {unknown[0]!r}: use one or more of {', '.join(TARGETS)}")
    if not chosen:
        raise InputError(f"no targets: use one or more of {', '.join(TARGETS)}")
    return chosen


def ranking_cost(estimate: Estimate, network: NetworkCost, options: Options) -> float:
    """What a target costs when targets are compared: the shared network counts only if asked."""
    return estimate.monthly_usd + (network.monthly_usd if options.count_network and estimate.needs_network else 0.0)


def estimate_all(workload: Workload, prices: Prices, options: Options,
                 targets: Optional[Sequence[str]] = None) -> dict[str, Estimate]:
    return {target: ESTIMATORS[target](workload, prices, options) for target in check_targets(targets)}


@dataclass(frozen=True)
class Crossover:
    cheaper_below: str
    cheaper_above: str
    requests_per_day: float
    monthly_usd: float

    def to_dict(self) -> dict:
        return asdict(self)


def cost_at(target: str, requests_per_day: float, workload: Workload, prices: Prices, options: Options,
            network: Optional[NetworkCost] = None) -> float:
    estimate = ESTIMATORS[target](replace(workload, requests_per_day=requests_per_day), prices, options)
    return ranking_cost(estimate, network or network_cost(prices, options), options)


def sweep(workload: Workload, prices: Prices, options: Options, targets: Sequence[str],
          low: float = 100, high: float = 10_000_000, points: int = 241) -> tuple[list[float], dict[str, list[float]]]:
    """Monthly cost of each target over requests/day from `low` to `high` (log-spaced)."""
    step = (math.log10(high) - math.log10(low)) / (points - 1)
    xs = [10 ** (math.log10(low) + i * step) for i in range(points)]
    network = network_cost(prices, options)
    return xs, {t: [cost_at(t, x, workload, prices, options, network) for x in xs] for t in targets}


def _bisect(a: str, b: str, lo: float, hi: float, workload: Workload, prices: Prices, options: Options,
            network: NetworkCost) -> float:
    def diff(x: float) -> float:
        return cost_at(a, x, workload, prices, options, network) - cost_at(b, x, workload, prices, options, network)

    sign_lo = diff(lo) < 0
    while hi / lo > 1.001:
        mid = math.sqrt(lo * hi)
        if (diff(mid) < 0) == sign_lo:
            lo = mid
        else:
            hi = mid
    return math.sqrt(lo * hi)


def crossovers(workload: Workload, prices: Prices, options: Options, targets: Sequence[str],
               low: float = 100, high: float = 10_000_000) -> list[Crossover]:
    """For each pair of targets, the first requests/day at which the cheaper one changes (bisected to 0.1%).

    Replica targets cost in steps (one more task), so a pair can swap back and forth above the
    first crossing; the first one is the number people quote. :func:`cheapest_bands` has the rest.
    """
    xs, costs = sweep(workload, prices, options, targets, low, high)
    network = network_cost(prices, options)
    found = []
    for i, a in enumerate(targets):
        for b in targets[i + 1:]:
            diff = [ca - cb for ca, cb in zip(costs[a], costs[b])]
            for k in range(len(xs) - 1):
                if diff[k] != 0 and diff[k + 1] != 0 and (diff[k] < 0) != (diff[k + 1] < 0):
                    x = _bisect(a, b, xs[k], xs[k + 1], workload, prices, options, network)
                    below, above = (a, b) if diff[k] < 0 else (b, a)
                    found.append(Crossover(below, above, x, cost_at(a, x, workload, prices, options, network)))
                    break
    return sorted(found, key=lambda c: c.requests_per_day)


@dataclass(frozen=True)
class Band:
    """A range of traffic over which one target is the cheapest of those that hold."""

    target: str
    from_requests_per_day: float
    to_requests_per_day: float

    def to_dict(self) -> dict:
        return asdict(self)


def cheapest_bands(workload: Workload, prices: Prices, options: Options, targets: Sequence[str],
                   low: float = 100, high: float = 10_000_000) -> list[Band]:
    """Which target is cheapest (of those that hold the latency target and the load) over the traffic range."""
    xs, _ = sweep(workload, prices, options, targets, low, high, points=121)
    network = network_cost(prices, options)
    bands: list[Band] = []
    for x in xs:
        estimates = estimate_all(replace(workload, requests_per_day=x), prices, options, targets)
        holding = [e for e in estimates.values() if e.ok] or list(estimates.values())
        best = min(holding, key=lambda e: ranking_cost(e, network, options)).target
        if bands and bands[-1].target == best:
            bands[-1] = Band(best, bands[-1].from_requests_per_day, x)
        else:
            bands.append(Band(best, x, x))
    # A replica target's cost steps up one task at a time, so near a crossover the cheapest can flip
    # for a single sample: fold those blips into the bands around them.
    merged: list[Band] = []
    for band in bands:
        if merged and (band.target == merged[-1].target or band.from_requests_per_day == band.to_requests_per_day):
            merged[-1] = Band(merged[-1].target, merged[-1].from_requests_per_day, band.to_requests_per_day)
        else:
            merged.append(band)
    return merged
