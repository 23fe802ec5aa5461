"""Per-environment settings: one frozen StageConfig for each of dev, staging and prod.

`app.py` picks one with `-c stage=NAME`; constructs never read context or the environment,
so everything that differs between environments is here and enters the stacks as props.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType
from typing import Optional

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs

PROJECT = "ml-inference"


def _frozen(mapping: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(mapping))


@dataclasses.dataclass(frozen=True)
class StageConfig:
    """Everything that differs between environments.

    Leave `account` and `region` unset for an environment-agnostic stage (synth needs no
    credentials and no lookups); set both to pin a stage to one account and region.
    """

    name: str
    account: Optional[str] = None
    region: Optional[str] = None
    owner: str = "ml-platform"
    extra_tags: Mapping[str, str] = dataclasses.field(default_factory=lambda: _frozen({}))

    # Network
    max_azs: int = 2
    nat_gateways: int = 1
    flow_log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH

    # Lambda target
    lambda_memory_mib: int = 3008
    lambda_timeout_seconds: int = 30
    lambda_reserved_concurrency: Optional[int] = None
    lambda_provisioned_concurrency: int = 0
    lambda_warmup_minutes: Optional[int] = None
    lambda_canary_deployment: bool = False

    # Logs and data: what survives a `cdk destroy`
    log_retention: logs.RetentionDays = logs.RetentionDays.TWO_WEEKS
    removal_policy: RemovalPolicy = RemovalPolicy.DESTROY

    # Alarm thresholds
    alarm_error_count: int = 5
    alarm_throttle_count: int = 1
    alarm_p99_duration_ms: int = 5000

    def __post_init__(self) -> None:
        if (self.account is None) != (self.region is None):
            raise ValueError(
                f"stage {self.name!r}: set both account and region, or neither for an "
                "environment-agnostic stage"
            )
        object.__setattr__(self, "extra_tags", _frozen(self.extra_tags))

    @property
    def tags(self) -> Mapping[str, str]:
        """The tags every stack of this stage carries."""
        return _frozen({"project": PROJECT, "stage": self.name, "owner": self.owner, **self.extra_tags})

    def with_environment(self, *, account: Optional[str], region: Optional[str]) -> "StageConfig":
        """This stage pinned to an account and region (both None keeps it as it is)."""
        if account is None and region is None:
            return self
        return dataclasses.replace(self, account=account, region=region)


STAGES: Mapping[str, StageConfig] = _frozen(  # type: ignore[arg-type]
    {
        "dev": StageConfig(
            name="dev",
            nat_gateways=1,
            lambda_memory_mib=3008,
            log_retention=logs.RetentionDays.ONE_WEEK,
            flow_log_retention=logs.RetentionDays.ONE_WEEK,
            removal_policy=RemovalPolicy.DESTROY,
        ),
        "staging": StageConfig(
            name="staging",
            nat_gateways=1,
            lambda_memory_mib=3008,
            lambda_reserved_concurrency=50,
            lambda_warmup_minutes=5,
            lambda_canary_deployment=True,
            log_retention=logs.RetentionDays.ONE_MONTH,
            flow_log_retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.RETAIN,
        ),
        "prod": StageConfig(
            name="prod",
            nat_gateways=2,
            lambda_memory_mib=3008,
            lambda_reserved_concurrency=200,
            lambda_provisioned_concurrency=2,
            lambda_canary_deployment=True,
            log_retention=logs.RetentionDays.THREE_MONTHS,
            flow_log_retention=logs.RetentionDays.THREE_MONTHS,
            removal_policy=RemovalPolicy.RETAIN,
            alarm_error_count=1,
            alarm_p99_duration_ms=3000,
        ),
    }
)

DEFAULT_STAGE = "dev"


def get_stage_config(name: Optional[str]) -> StageConfig:
    """The StageConfig called `name` (None means the default stage); ValueError if unknown."""
    stage = name or DEFAULT_STAGE
    try:
        return STAGES[stage]
    except KeyError:
        known = ", ".join(STAGES)
        raise ValueError(f"unknown stage {stage!r}: use -c stage=NAME with one of {known}") from None
