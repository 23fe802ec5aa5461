"""The cost and capacity model: traffic shapes, autoscaling, cold starts, the shared network."""

from __future__ import annotations

import dataclasses

import pytest

from ml_inference_cli.model import (
    TARGETS,
    Options,
    Workload,
    cheapest_bands,
    crossovers,
    estimate_all,
    network_cost,
)
from ml_inference_cli.prices import InputError


def estimates(prices, workload=None, **options):
    return estimate_all(workload or Workload(), prices, Options(**options))


def test_every_target_has_a_monthly_cost_a_cost_per_1000_predictions_replicas_and_a_latency_verdict(prices):
    result = estimates(prices, Workload(requests_per_day=50_000, items_per_request=3))
    assert list(result) == list(TARGETS)
    for estimate in result.values():
        assert estimate.monthly_usd == pytest.approx(sum(estimate.items.values()))
        assert estimate.monthly_usd > 0
        predictions = 50_000 * prices.days_per_month * 3
        assert estimate.cost_per_1000_predictions == pytest.approx(estimate.monthly_usd / predictions * 1000)
        assert estimate.replicas_peak >= estimate.replicas_mean >= 0
        assert isinstance(estimate.latency_ok, bool) and estimate.p99_ms > 0


def test_lambda_costs_scale_with_traffic_and_always_on_targets_do_not_at_low_traffic(prices):
    low = estimates(prices, Workload(requests_per_day=1_000))
    high = estimates(prices, Workload(requests_per_day=10_000))
    assert high["lambda"].monthly_usd == pytest.approx(10 * low["lambda"].monthly_usd, rel=1e-6)
    assert high["fargate"].monthly_usd == pytest.approx(low["fargate"].monthly_usd, rel=0.01)
    assert high["eks"].monthly_usd == pytest.approx(low["eks"].monthly_usd, rel=0.01)


def test_no_traffic_costs_nothing_on_lambda_and_the_minimum_elsewhere(prices):
    result = estimates(prices, Workload(requests_per_day=0))
    assert result["lambda"].monthly_usd == 0 and result["sagemaker-serverless"].monthly_usd == 0
    assert result["fargate"].replicas_peak == 1 and result["eks"].replicas_peak == 2


def test_fargate_adds_tasks_for_the_peak_and_pays_for_the_time_weighted_mean(prices):
    # 4 requests/s per task at 70%: 2.8 requests/s a task.
    steady = estimates(prices, Workload(requests_per_day=864_000, replica_rps=4))["fargate"]  # 10 req/s
    assert steady.replicas_peak == steady.replicas_mean == 4
    office = estimates(prices, Workload(requests_per_day=864_000, replica_rps=4, shape="business-hours"))["fargate"]
    assert office.replicas_peak == 12  # 10 / 0.298 = 33.6 req/s in office hours
    assert office.replicas_mean == pytest.approx(12 * 0.2976 + 1 * 0.7024, rel=1e-3)
    assert office.monthly_usd < 12 * steady.monthly_usd / 4


def test_bursty_traffic_peaks_at_the_peak_factor_and_keeps_the_mean(prices):
    workload = Workload(requests_per_day=86_400, shape="bursty", peak_factor=8, burst_fraction=0.1)
    high, fraction, low = workload.profile()
    assert high == pytest.approx(8) and fraction == pytest.approx(0.1)
    assert high * fraction + low * (1 - fraction) == pytest.approx(1.0)


def test_fargate_spot_share_lowers_the_task_cost(prices):
    on_demand = estimates(prices)["fargate"]
    half_spot = estimates(prices, fargate_spot_share=0.5)["fargate"]
    compute = on_demand.items["vcpu"] + on_demand.items["memory"]
    expected = compute * (1 - 0.5 * prices.fargate_spot_discount)
    assert half_spot.items["vcpu"] + half_spot.items["memory"] == pytest.approx(expected)


def test_cold_starts_break_a_tight_p99_at_low_traffic_and_provisioned_concurrency_fixes_it(prices):
    quiet = Workload(requests_per_day=200, p99_target_ms=1000, cold_start_s=3.5)
    plain = estimates(prices, quiet)["lambda"]
    assert not plain.latency_ok and plain.p99_ms > 3500
    provisioned = estimates(prices, quiet, lambda_provisioned_concurrency=1)["lambda"]
    assert provisioned.latency_ok
    assert provisioned.items["provisioned_concurrency"] == pytest.approx(
        2.9375 * prices.hours_per_month * 3600 * prices.lambda_provisioned_gb_second["x86_64"])
    busy = estimates(prices, Workload(requests_per_day=50_000))["lambda"]
    assert busy.latency_ok


def test_sagemaker_async_never_holds_an_interactive_latency_target(prices):
    assert not estimates(prices)["sagemaker-async"].latency_ok
    assert estimates(prices, Workload(p99_target_ms=600_000))["sagemaker-async"].latency_ok


def test_the_shared_network_is_priced_apart_and_counts_only_when_asked(prices):
    network = network_cost(prices, Options(nat_gateways=2, interface_endpoints=5, availability_zones=2))
    assert network.items["nat_gateways"] == pytest.approx(2 * 0.045 * 730)
    assert network.items["interface_endpoints"] == pytest.approx(5 * 2 * 0.01 * 730)
    result = estimates(prices)
    assert result["fargate"].needs_network and result["eks"].needs_network and not result["lambda"].needs_network
    assert "nat" not in " ".join(result["fargate"].items)
    apart = crossovers(Workload(), prices, Options(), ["lambda", "fargate"])[0]
    counted = crossovers(Workload(), prices, Options(count_network=True), ["lambda", "fargate"])[0]
    assert counted.requests_per_day > apart.requests_per_day


def test_crossovers_are_where_the_cheaper_target_changes(prices):
    workload = Workload(seconds_per_request=0.05, replica_rps=40)
    (cross,) = crossovers(workload, prices, Options(), ["lambda", "fargate"])
    below = estimates(prices, dataclasses.replace(workload, requests_per_day=cross.requests_per_day * 0.95))
    above = estimates(prices, dataclasses.replace(workload, requests_per_day=cross.requests_per_day * 1.05))
    assert below["lambda"].monthly_usd < below["fargate"].monthly_usd
    assert above["lambda"].monthly_usd > above["fargate"].monthly_usd


def test_cheapest_bands_cover_the_range_with_targets_that_hold(prices):
    bands = cheapest_bands(Workload(), prices, Options(), list(TARGETS))
    assert bands[0].from_requests_per_day == pytest.approx(100)
    assert bands[-1].to_requests_per_day == pytest.approx(10_000_000)
    assert "sagemaker-async" not in {b.target for b in bands}


def test_arm64_is_cheaper_than_x86_for_lambda_and_fargate(prices):
    x86, arm = estimates(prices), estimates(prices, architecture="arm64")
    assert arm["lambda"].monthly_usd < x86["lambda"].monthly_usd
    assert arm["fargate"].monthly_usd < x86["fargate"].monthly_usd


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Workload(requests_per_day=-1), "requests per day must be zero or more"),
        (lambda: Workload(shape="weekly"), "unknown traffic shape 'weekly'"),
        (lambda: Workload(peak_factor=0.5), "peak factor must be 1 or more"),
        (lambda: Workload(seconds_per_request=0), "seconds per request must be positive"),
        (lambda: Options(lambda_memory_mb=64), "Lambda memory must be 128-10240 MB"),
        (lambda: Options(fargate_spot_share=1.5), "Fargate Spot share must be between 0 and 1"),
        (lambda: Options(nat_gateways=-1), "nat gateways must be a whole number"),
    ],
)
def test_fails_when_an_input_is_out_of_range(make, message):
    with pytest.raises(InputError, match=message):
        make()


def test_fails_when_an_instance_type_is_not_in_the_price_sheet(prices):
    with pytest.raises(InputError, match="unknown EC2 instance type 'x9.huge'"):
        estimates(prices, eks_node_type="x9.huge")


def test_lambda_lists_its_cost_by_memory_size(prices):
    (note,) = [n for n in estimates(prices)["lambda"].notes if "by memory" in n]
    assert "1769 MB $" in note and "10240 MB $" in note
