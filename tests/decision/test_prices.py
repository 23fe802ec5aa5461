"""The price sheet: shipped with its source and date, overridable, and strict about its fields."""

from __future__ import annotations

import json

import pytest

from ml_inference_cli.prices import InputError, load_prices, prices_from_dict, shipped_price_file


def test_the_shipped_sheet_names_its_source_date_and_region(prices):
    assert prices.region == "us-east-1" and prices.currency == "USD" and prices.date
    assert prices.source["lambda"].startswith("https://aws.amazon.com/lambda/pricing")
    assert prices.hours_per_month == 730 and prices.days_per_month == pytest.approx(30.4167, rel=1e-4)


def test_the_shipped_sheet_has_the_published_comparisons_prices(prices):
    assert prices.lambda_request_per_million == 0.20
    assert prices.lambda_gb_second["x86_64"] == 0.0000166667
    assert (prices.fargate_vcpu_hour["x86_64"], prices.fargate_gb_hour["x86_64"]) == (0.04048, 0.004445)
    assert (prices.eks_cluster_hour, prices.ec2["t3.large"].hour, prices.nat_gateway_hour) == (0.10, 0.0832, 0.045)


def test_a_users_file_replaces_the_shipped_one(tmp_path, price_data):
    price_data["lambda"]["request_per_million"] = 0.25
    price_data["region"] = "eu-west-1"
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(price_data))
    mine = load_prices(path)
    assert mine.region == "eu-west-1" and mine.lambda_request_per_million == 0.25


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (("fargate", "gb_hour", "arm64"), "field 'fargate.gb_hour.arm64' is missing"),
        (("date",), "field 'date' is missing"),
        (("ec2", "t3.large", "hour"), "field 'ec2.t3.large.hour' is missing"),
        (("network", "nat_gateway_hour"), "field 'network.nat_gateway_hour' is missing"),
    ],
)
def test_fails_when_a_field_is_missing_and_names_it(price_data, path, message):
    node = price_data
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    with pytest.raises(InputError, match=message.replace(".", r"\.")):
        prices_from_dict(price_data)


def test_fails_when_a_price_is_not_a_number_or_negative(price_data):
    price_data["alb"]["hour"] = "0.0225"
    with pytest.raises(InputError, match="'alb.hour' must be a number"):
        prices_from_dict(price_data)
    price_data["alb"]["hour"] = float("nan")
    with pytest.raises(InputError, match="'alb.hour' must be a number, got nan"):
        prices_from_dict(price_data)
    price_data["alb"]["hour"] = -1
    with pytest.raises(InputError, match="'alb.hour' must be zero or more"):
        prices_from_dict(price_data)


def test_fails_when_the_file_is_missing_or_not_json(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_prices(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="is not valid JSON"):
        load_prices(bad)
    with pytest.raises(InputError, match="no price file shipped for region 'mars-1'"):
        shipped_price_file("mars-1")
