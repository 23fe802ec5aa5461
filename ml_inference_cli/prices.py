"""The price sheet: every price the cost model uses, read from a JSON file with its source and date.

The package ships ``price_sheets/us-east-1.json``; ``--prices FILE`` replaces it with a complete file of
the same shape (copy the shipped one and edit it). A missing or malformed field stops with a
message that names it, so a typo never silently prices something at zero.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Optional, Union

ARCHITECTURES = ("x86_64", "arm64")
DEFAULT_REGION = "us-east-1"


class InputError(ValueError):
    """Bad input to the decision tools (traffic, flags, bench or price file): the message says what to fix."""


@dataclass(frozen=True)
class InstancePrice:
    """An instance type: on-demand price per hour and its size."""

    hour: float
    vcpu: float
    memory_gib: float
    gpu: bool = False


@dataclass(frozen=True)
class Prices:
    """One region's on-demand prices, in ``currency``. Hourly prices are per hour, monthly per month."""

    region: str
    currency: str
    date: str
    source: Mapping[str, str]
    #: Hours in a billing month: the AWS Pricing Calculator's 730 (8,760 h / 12). A month has
    #: ``hours_per_month / 24`` days (30.42), so requests per month = requests per day x 30.42.
    hours_per_month: float
    lambda_request_per_million: float
    lambda_gb_second: Mapping[str, float]
    lambda_provisioned_gb_second: Mapping[str, float]
    lambda_provisioned_duration_gb_second: Mapping[str, float]
    fargate_vcpu_hour: Mapping[str, float]
    fargate_gb_hour: Mapping[str, float]
    fargate_spot_discount: float
    alb_hour: float
    alb_lcu_hour: float
    eks_cluster_hour: float
    ebs_gp3_gb_month: float
    ec2: Mapping[str, InstancePrice]
    sagemaker_realtime: Mapping[str, InstancePrice]
    sagemaker_serverless_gb_second: float
    sagemaker_data_processed_gb: float
    nat_gateway_hour: float
    nat_gateway_gb: float
    interface_endpoint_hour: float
    interface_endpoint_gb: float

    @property
    def days_per_month(self) -> float:
        return self.hours_per_month / 24


def shipped_price_file(region: str = DEFAULT_REGION) -> Path:
    """The price file shipped with the package for ``region``."""
    path = Path(str(resources.files(__package__).joinpath("price_sheets", f"{region}.json")))
    if not path.is_file():
        shipped = sorted(p.stem for p in path.parent.glob("*.json"))
        raise InputError(f"no price file shipped for region {region!r} (shipped: {', '.join(shipped)}); "
                         "pass your own with --prices FILE")
    return path


def load_prices(path: Optional[Union[str, Path]] = None) -> Prices:
    """Read and check a price file (default: the shipped us-east-1 sheet)."""
    file = Path(path) if path is not None else shipped_price_file()
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"price file {file} does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read price file {file}: {error}") from None
    except json.JSONDecodeError as error:
        raise InputError(f"price file {file} is not valid JSON: {error}") from None
    return prices_from_dict(data, origin=str(file))


def prices_from_dict(data: Any, *, origin: str = "price sheet") -> Prices:
    """Build Prices from the parsed JSON, naming the first missing or malformed field."""
    reader = _Reader(data, origin)
    return Prices(
        region=reader.text("region"),
        currency=reader.text("currency"),
        date=reader.text("date"),
        source=MappingProxyType(dict(reader.mapping("source"))),
        hours_per_month=reader.number("hours_per_month", positive=True),
        lambda_request_per_million=reader.number("lambda.request_per_million"),
        lambda_gb_second=reader.per_arch("lambda.gb_second"),
        lambda_provisioned_gb_second=reader.per_arch("lambda.provisioned_gb_second"),
        lambda_provisioned_duration_gb_second=reader.per_arch("lambda.provisioned_duration_gb_second"),
        fargate_vcpu_hour=reader.per_arch("fargate.vcpu_hour"),
        fargate_gb_hour=reader.per_arch("fargate.gb_hour"),
        fargate_spot_discount=reader.fraction("fargate.spot_discount"),
        alb_hour=reader.number("alb.hour"),
        alb_lcu_hour=reader.number("alb.lcu_hour"),
        eks_cluster_hour=reader.number("eks.cluster_hour"),
        ebs_gp3_gb_month=reader.number("ebs.gp3_gb_month"),
        ec2=reader.instances("ec2"),
        sagemaker_realtime=reader.instances("sagemaker.realtime"),
        sagemaker_serverless_gb_second=reader.number("sagemaker.serverless_gb_second"),
        sagemaker_data_processed_gb=reader.number("sagemaker.data_processed_gb"),
        nat_gateway_hour=reader.number("network.nat_gateway_hour"),
        nat_gateway_gb=reader.number("network.nat_gateway_gb"),
        interface_endpoint_hour=reader.number("network.interface_endpoint_hour"),
        interface_endpoint_gb=reader.number("network.interface_endpoint_gb"),
    )


class _Reader:
    def __init__(self, data: Any, origin: str) -> None:
        if not isinstance(data, Mapping):
            raise InputError(f"{origin}: the top level must be a JSON object")
        self.data = data
        self.origin = origin

    def _fail(self, field: str, problem: str) -> InputError:
        return InputError(f"{self.origin}: field '{field}' {problem}")

    def get(self, field: str) -> Any:
        node: Any = self.data
        # Instance names hold dots ("t3.large"): a part may be a key with a dot in it.
        for part in _split(field, self.data):
            if not isinstance(node, Mapping) or part not in node:
                raise self._fail(field, "is missing")
            node = node[part]
        return node

    def text(self, field: str) -> str:
        value = self.get(field)
        if not isinstance(value, str) or not value.strip():
            raise self._fail(field, "must be a non-empty string")
        return value

    def mapping(self, field: str) -> Mapping[str, Any]:
        value = self.get(field)
        if not isinstance(value, Mapping) or not value:
            raise self._fail(field, "must be a non-empty object")
        return value

    def number(self, field: str, *, positive: bool = False) -> float:
        value = self.get(field)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self._fail(field, f"must be a number, got {value!r}")
        if value < 0 or (positive and value == 0):
            raise self._fail(field, f"must be {'positive' if positive else 'zero or more'}, got {value!r}")
        return float(value)

    def fraction(self, field: str) -> float:
        value = self.number(field)
        if value > 1:
            raise self._fail(field, f"must be between 0 and 1, got {value!r}")
        return value

    def per_arch(self, field: str) -> Mapping[str, float]:
        return MappingProxyType({arch: self.number(f"{field}.{arch}") for arch in ARCHITECTURES})

    def instances(self, field: str) -> Mapping[str, InstancePrice]:
        table = self.mapping(field)
        result = {}
        for name in table:
            entry = f"{field}.{name}"
            node = self.get(entry)
            gpu = node.get("gpu", False) if isinstance(node, Mapping) else False
            if not isinstance(gpu, bool):
                raise self._fail(f"{entry}.gpu", f"must be true or false, got {gpu!r}")
            result[name] = InstancePrice(
                hour=self.number(f"{entry}.hour"),
                vcpu=self.number(f"{entry}.vcpu", positive=True),
                memory_gib=self.number(f"{entry}.memory_gib", positive=True),
                gpu=gpu,
            )
        return MappingProxyType(result)


def _split(field: str, data: Any) -> list[str]:
    """The keys of a dotted path, where a key may itself contain dots (``ec2.t3.large.hour``)."""
    parts, node, rest = [], data, field
    while rest:
        if isinstance(node, Mapping):
            # Prefer the longest key that matches the start of what is left.
            keys = sorted((k for k in node if isinstance(k, str) and (rest == k or rest.startswith(k + "."))),
                          key=len, reverse=True)
            if keys:
                parts.append(keys[0])
                node, rest = node[keys[0]], rest[len(keys[0]) + 1:]
                continue
        head, _, rest = rest.partition(".")
        parts.append(head)
        node = None
    return parts
