"""Per-environment settings: one frozen StageConfig for each of dev, staging and prod.

`app.py` picks one with `-c stage=NAME`; constructs never read context or the environment,
so everything that differs between environments is here and enters the stacks as props.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Optional

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs

from .constructs._waf import DEFAULT_RATE_LIMIT, WAF_MAX_RATE_LIMIT, WAF_MIN_RATE_LIMIT
from .constructs.eks.endpoint_access import check_public_access_cidrs
from .constructs.training.image import DEFAULT_BASE_MODEL

PROJECT = "ml-inference"
_CERTIFICATE_ARN = re.compile(r"^arn:aws[a-z-]*:acm:(?P<region>[a-z0-9-]+):\d{12}:certificate/[0-9a-f-]+$")
#: The values of StageConfig.sagemaker_mode (the values of SageMakerEndpoint's EndpointMode).
SAGEMAKER_MODES = ("real-time", "serverless", "async")
#: The deployment targets a stage may run (its stacks are MlInference-<target>).
TARGETS = ("Lambda", "Fargate", "Eks", "SageMaker")
#: Availability zones a stage pinned to an account uses, by region, so synth needs no lookup
#: (without an account the templates ask CloudFormation with Fn::GetAZs instead). Zone names
#: that every account has: some regions' first letters are missing in newer accounts
#: (ap-northeast-1b, us-west-1a), so the table is checked, not derived.
KNOWN_AVAILABILITY_ZONES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "us-east-1": ("us-east-1a", "us-east-1b", "us-east-1c"),
        "us-east-2": ("us-east-2a", "us-east-2b", "us-east-2c"),
        "us-west-2": ("us-west-2a", "us-west-2b", "us-west-2c"),
        "eu-west-1": ("eu-west-1a", "eu-west-1b", "eu-west-1c"),
        "eu-central-1": ("eu-central-1a", "eu-central-1b", "eu-central-1c"),
        "ap-northeast-1": ("ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d"),
        "ap-southeast-2": ("ap-southeast-2a", "ap-southeast-2b", "ap-southeast-2c"),
    }
)
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")


def _frozen(mapping: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(mapping))


@dataclasses.dataclass(frozen=True)
class StageConfig:
    """Everything that differs between environments.

    Stages name their region (the ALB's access-log delivery and other regional details need
    it) and leave the account to the credentials that deploy them, so synth needs no
    credentials and no lookups. Set `account` too to pin a stage to one account.
    """

    name: str
    account: Optional[str] = None
    region: str = "us-east-1"
    owner: str = "ml-platform"
    extra_tags: Mapping[str, str] = dataclasses.field(default_factory=lambda: _frozen({}))
    #: The targets this stage deploys (a subset of TARGETS); the shared network comes with any
    #: target that runs in it.
    targets: tuple[str, ...] = TARGETS

    # Network. availability_zones: the zones to use when the stage pins an account (then synth
    # cannot ask CloudFormation); default: KNOWN_AVAILABILITY_ZONES for the region.
    max_azs: int = 2
    availability_zones: tuple[str, ...] = ()
    nat_gateways: int = 1
    flow_log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH

    # Lambda target
    lambda_memory_mib: int = 3008
    lambda_timeout_seconds: int = 30
    lambda_reserved_concurrency: Optional[int] = None
    lambda_provisioned_concurrency: int = 0
    lambda_warmup_minutes: Optional[int] = None
    lambda_canary_deployment: bool = False

    # Fargate target
    fargate_cpu: int = 2048
    fargate_memory_mib: int = 4096
    fargate_min_tasks: int = 1
    fargate_max_tasks: int = 2
    fargate_spot_weight: int = 0
    fargate_on_demand_base: int = 0

    # EKS target: the API endpoint is private unless CIDRs are named; admins get access entries
    eks_min_replicas: int = 2
    eks_max_replicas: int = 4
    eks_gpu_count: int = 0
    eks_endpoint_public_cidrs: tuple[str, ...] = ()
    eks_admin_role_arns: tuple[str, ...] = ()

    # SageMaker target: "serverless", "async" or "real-time" (see SageMakerEndpoint)
    sagemaker_mode: str = "serverless"
    sagemaker_instance_type: str = "ml.c5.large"
    sagemaker_min_instances: int = 1
    sagemaker_max_instances: int = 2
    sagemaker_serverless_memory_mib: int = 3072
    sagemaker_serverless_max_concurrency: int = 5
    sagemaker_data_capture_percent: Optional[int] = None

    # Logs and data: what survives a `cdk destroy`
    log_retention: logs.RetentionDays = logs.RetentionDays.TWO_WEEKS
    removal_policy: RemovalPolicy = RemovalPolicy.DESTROY

    # Alarm thresholds
    alarm_error_count: int = 5
    alarm_throttle_count: int = 1
    alarm_p99_duration_ms: int = 5000
    alarm_http_5xx_count: int = 5
    alarm_p99_latency_ms: int = 1000

    # Observability (issue 16): the service alarms, tracing, the stage's budget, the drift check
    #: The share of requests answered 5xx (the service's own metrics) that raises an alarm.
    alarm_error_rate_percent: float = 5.0
    #: OpenTelemetry traces from Fargate and EKS to X-Ray (a collector sidecar); Lambda always traces.
    tracing: bool = False
    #: The stage's monthly AWS Budget (USD) over the costs tagged project=ml-inference, stage=<name>.
    monthly_budget_usd: float = 400.0
    #: The model's labels; the drift check watches the share of each.
    model_labels: tuple[str, ...] = ("NEGATIVE", "POSITIVE")
    #: Each label's expected share of the predictions (percent, low-high); outside it alarms.
    drift_label_share_percent: tuple[float, float] = (10.0, 90.0)
    #: The mean confidence below which the drift check alarms (None: no confidence alarm).
    drift_min_mean_confidence: Optional[float] = 0.7
    #: Periods with fewer predictions are not judged; and the period the drift check judges.
    drift_min_predictions: int = 50
    drift_period_minutes: int = 60

    # Exposure (issue 18): the Fargate ALB and the EKS Ingress face the internet only on HTTPS
    #: An ACM certificate ARN in the stage's region, for the Fargate ALB and the EKS Ingress.
    #: None: both load balancers are internal (reachable from the VPC only) and synth says so.
    certificate_arn: Optional[str] = None
    #: A Route 53 hosted zone (id and name) and a record in it that the Fargate stack points at
    #: its ALB (an alias A record); the certificate must cover the record. None: no record.
    hosted_zone_id: Optional[str] = None
    hosted_zone_name: Optional[str] = None
    domain_name: Optional[str] = None
    #: Requests one client IP may send in five minutes before WAF blocks it (WAF's minimum: 10).
    waf_rate_limit: int = DEFAULT_RATE_LIMIT
    #: The Fargate ALB refuses deletion until this is turned off.
    load_balancer_deletion_protection: bool = False

    # Model lifecycle (MlInference-Training: training, registry, roll-out; docs/model-lifecycle.md)
    #: Whether the stage has the MlInference-Training stack.
    training: bool = True
    training_instance_type: str = "ml.m5.xlarge"
    #: Managed Spot training (checkpoints in S3) or on-demand.
    training_spot: bool = True
    training_max_runtime_minutes: int = 240
    #: Spot only: training plus waiting for capacity.
    training_max_wait_minutes: int = 480
    training_base_model: str = DEFAULT_BASE_MODEL
    #: train.py options, as SageMaker passes them (strings).
    training_hyperparameters: Mapping[str, str] = dataclasses.field(
        default_factory=lambda: _frozen({"epochs": "2", "learning_rate": "2e-5", "batch_size": "16", "max_length": "256"})
    )
    #: An EventBridge schedule expression, e.g. "cron(0 3 ? * MON *)"; None: no scheduled runs.
    training_schedule: Optional[str] = None
    #: New objects under train/ start a run (one per UTC hour), which waits this long first.
    training_on_new_data: bool = True
    training_debounce_minutes: int = 10
    training_min_accuracy: float = 0.85
    training_min_f1: float = 0.85
    #: Register passing models as Approved (rolled out at once) instead of PendingManualApproval.
    training_auto_approve: bool = False
    #: A delivery pipeline (CodePipeline V2, declaring a MODEL_PACKAGE_ARN variable) to start on approval;
    #: None: none. MlInference-Pipeline declares no such variable yet (docs/model-lifecycle.md).
    training_delivery_pipeline: Optional[str] = None
    #: A local model directory baked into the images instead of the Hub model (`-c model_directory=`,
    #: which `make deploy MODEL_PACKAGE=arn` fills from the Model Registry).
    model_directory: Optional[str] = None

    # Delivery pipeline: rollback of a bad deploy, and what the smoke steps run as
    #: Fargate rolls a deployment back when its 5xx or p99 latency alarm fires during it (ECS
    #: deployment alarms), on top of the circuit breaker that catches tasks that never get healthy.
    fargate_rollback_on_alarms: bool = False
    #: A role in the stage's account that the pipeline's smoke steps assume (read the stacks'
    #: outputs, invoke the endpoints): needed when the stage lives in another account than the
    #: pipeline. None: the smoke steps run as their own CodeBuild role, in the pipeline's account.
    smoke_role_arn: Optional[str] = None

    # Supply chain (issue 18): what the stage builds from is pinned
    #: The Hub commit training fine-tunes `training_base_model` at; None: the pinned commit of the
    #: default base (DEFAULT_BASE_REVISION), and required with any other base.
    training_base_model_revision: Optional[str] = None

    def __post_init__(self) -> None:
        if not self.region:
            raise ValueError(f"stage {self.name!r}: region must not be empty")
        unknown = [target for target in self.targets if target not in TARGETS]
        if unknown or not self.targets or len(set(self.targets)) != len(self.targets):
            raise ValueError(
                f"stage {self.name!r}: targets must be distinct names from {', '.join(TARGETS)}, got {self.targets!r}"
            )
        if self.sagemaker_mode not in SAGEMAKER_MODES:
            raise ValueError(
                f"stage {self.name!r}: sagemaker_mode {self.sagemaker_mode!r} is not one of {', '.join(SAGEMAKER_MODES)}"
            )
        if self.account is not None and self.needs_network:
            zones = self.availability_zones or KNOWN_AVAILABILITY_ZONES.get(self.region, ())
            if len(zones) < self.max_azs:
                raise ValueError(
                    f"stage {self.name!r} pins account {self.account} in {self.region}: name {self.max_azs} of its "
                    "availability zones in StageConfig.availability_zones (synth cannot look them up without "
                    "credentials), or leave the account to the credentials that deploy"
                )
            if any(not zone.startswith(self.region) for zone in zones):
                raise ValueError(f"stage {self.name!r}: availability_zones {zones!r} are not all in {self.region}")

        self._check_training()

        if self.smoke_role_arn is not None and not _ROLE_ARN.match(self.smoke_role_arn):
            raise ValueError(
                f"stage {self.name!r}: smoke_role_arn must be an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME), "
                f"got {self.smoke_role_arn!r}"
            )
        object.__setattr__(self, "extra_tags", _frozen(self.extra_tags))
        object.__setattr__(self, "training_hyperparameters", _frozen(self.training_hyperparameters))
        self._check_observability()
        self._check_exposure()
        check_public_access_cidrs(self.eks_endpoint_public_cidrs)
        object.__setattr__(self, "extra_tags", _frozen(self.extra_tags))

    def _check_training(self) -> None:
        where = f"stage {self.name!r}"
        for name in ("training_min_accuracy", "training_min_f1"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{where}: {name} must be between 0 and 1, got {getattr(self, name)}")
        if self.training_max_runtime_minutes < 1:
            raise ValueError(f"{where}: training_max_runtime_minutes must be at least 1")
        if self.training_spot and self.training_max_wait_minutes < self.training_max_runtime_minutes:
            raise ValueError(f"{where}: training_max_wait_minutes must be at least training_max_runtime_minutes "
                             "(Spot's wait counts the training time too)")
        if not 0 <= self.training_debounce_minutes <= 60:
            raise ValueError(f"{where}: training_debounce_minutes must be between 0 and 60 (runs are per UTC hour)")
        schedule = self.training_schedule
        if schedule is not None and not (schedule.startswith(("cron(", "rate(")) and schedule.endswith(")")):
            raise ValueError(f"{where}: training_schedule {schedule!r} must be an EventBridge expression such as "
                             "'cron(0 3 ? * MON *)' or 'rate(7 days)'")
        # The same rule as BaseModel.from_hub, said in this config's words.
        if self.training_base_model != DEFAULT_BASE_MODEL and not self.training_base_model_revision:
            raise ValueError(f"{where}: training_base_model {self.training_base_model!r} needs "
                             "training_base_model_revision, the Hub commit sha to fine-tune")

    def _check_observability(self) -> None:
        if not 0 < self.alarm_error_rate_percent <= 100:
            raise ValueError(f"stage {self.name!r}: alarm_error_rate_percent must be above 0 and at most 100")
        if self.monthly_budget_usd <= 0:
            raise ValueError(f"stage {self.name!r}: monthly_budget_usd must be above 0")
        if len(set(self.model_labels)) != len(self.model_labels) or not all(self.model_labels):
            raise ValueError(f"stage {self.name!r}: model_labels must be distinct, non-empty names")
        low, high = self.drift_label_share_percent
        if not 0 <= low < high <= 100:
            raise ValueError(f"stage {self.name!r}: drift_label_share_percent must be (low, high) within 0-100")
        if self.drift_min_mean_confidence is not None and not 0 < self.drift_min_mean_confidence < 1:
            raise ValueError(f"stage {self.name!r}: drift_min_mean_confidence must be between 0 and 1")
        if self.drift_min_predictions < 1 or not 5 <= self.drift_period_minutes <= 1440:
            raise ValueError(
                f"stage {self.name!r}: drift_min_predictions must be at least 1 and drift_period_minutes 5-1440"
            )

    def _check_exposure(self) -> None:
        name = f"stage {self.name!r}"
        if self.certificate_arn is not None:
            match = _CERTIFICATE_ARN.match(self.certificate_arn)
            if not match:
                raise ValueError(
                    f"{name}: certificate_arn {self.certificate_arn!r} is not an ACM certificate ARN "
                    "(arn:aws:acm:<region>:<account>:certificate/<id>)"
                )
            if match["region"] != self.region:
                raise ValueError(
                    f"{name}: certificate_arn is in {match['region']} but the stage deploys to {self.region}: "
                    "a load balancer takes a certificate from its own region"
                )
        domain = {"hosted_zone_id": self.hosted_zone_id, "hosted_zone_name": self.hosted_zone_name,
                  "domain_name": self.domain_name}
        given = [field for field, value in domain.items() if value]
        if given and len(given) != len(domain):
            missing = ", ".join(field for field in domain if field not in given)
            raise ValueError(f"{name}: a domain needs hosted_zone_id, hosted_zone_name and domain_name; set {missing}")
        if given:
            if self.certificate_arn is None:
                raise ValueError(f"{name}: domain_name is served over HTTPS: set certificate_arn (a certificate for it)")
            zone = self.hosted_zone_name.rstrip(".").lower()  # type: ignore[union-attr]
            record = self.domain_name.rstrip(".").lower()  # type: ignore[union-attr]
            if record != zone and not record.endswith(f".{zone}"):
                raise ValueError(f"{name}: domain_name {self.domain_name!r} is not in the zone {self.hosted_zone_name!r}")
        if not WAF_MIN_RATE_LIMIT <= self.waf_rate_limit <= WAF_MAX_RATE_LIMIT:
            raise ValueError(
                f"{name}: waf_rate_limit must be between {WAF_MIN_RATE_LIMIT} (WAF's minimum) and "
                f"{WAF_MAX_RATE_LIMIT} requests per client IP in five minutes, got {self.waf_rate_limit}"
            )

    @property
    def tags(self) -> Mapping[str, str]:
        """The tags every stack of this stage carries."""
        return _frozen({"project": PROJECT, "stage": self.name, "owner": self.owner, **self.extra_tags})

    @property
    def needs_network(self) -> bool:
        """Whether a target of this stage runs in the shared VPC (Fargate, EKS, SageMaker with
        instances; Lambda and serverless SageMaker run outside any VPC)."""
        in_vpc = {"Fargate", "Eks"} | ({"SageMaker"} if self.sagemaker_mode != "serverless" else set())
        return bool(in_vpc & set(self.targets))

    @property
    def zones(self) -> Optional[tuple[str, ...]]:
        """The availability zones the network spans, named at synth when the stage pins an account
        (so no lookup, and no credentials, are needed); None lets CloudFormation pick them."""
        if self.account is None:
            return None
        zones = self.availability_zones or KNOWN_AVAILABILITY_ZONES.get(self.region, ())
        return zones[: self.max_azs]

    def with_environment(self, *, account: Optional[str], region: Optional[str]) -> "StageConfig":
        """This stage with its account and/or region replaced (None keeps what it has)."""
        return dataclasses.replace(self, account=account or self.account, region=region or self.region)

    def with_model_directory(self, model_directory: str) -> "StageConfig":
        """This stage with `model_directory` baked into its images (a local save_pretrained directory)."""
        return dataclasses.replace(self, model_directory=model_directory)


STAGES: Mapping[str, StageConfig] = _frozen(  # type: ignore[arg-type]
    {
        "dev": StageConfig(
            name="dev",
            nat_gateways=1,
            lambda_memory_mib=3008,
            fargate_min_tasks=1,
            fargate_max_tasks=2,
            # dev tolerates Spot interruptions for about 70% off.
            fargate_spot_weight=1,
            # One pod is enough to try the cluster; the HPA may add a second.
            eks_min_replicas=1,
            eks_max_replicas=2,
            # Intermittent developer traffic: pay per request, tolerate cold starts.
            sagemaker_mode="serverless",
            log_retention=logs.RetentionDays.ONE_WEEK,
            flow_log_retention=logs.RetentionDays.ONE_WEEK,
            removal_policy=RemovalPolicy.DESTROY,
            # NAT, the EKS control plane and a Spot task: about $250 a month idle.
            monthly_budget_usd=400.0,
            # dev rolls out every model that passes the gate; staging and prod wait for a person.
            training_auto_approve=True,
        ),
        "staging": StageConfig(
            name="staging",
            nat_gateways=1,
            lambda_memory_mib=3008,
            lambda_reserved_concurrency=50,
            lambda_warmup_minutes=5,
            lambda_canary_deployment=True,
            fargate_min_tasks=1,
            fargate_max_tasks=4,
            eks_min_replicas=2,
            eks_max_replicas=4,
            # Scale to zero between test runs; exercises the S3/SNS path real clients use.
            sagemaker_mode="async",
            sagemaker_min_instances=0,
            sagemaker_max_instances=2,
            log_retention=logs.RetentionDays.ONE_MONTH,
            flow_log_retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.RETAIN,
            monthly_budget_usd=600.0,
            fargate_rollback_on_alarms=True,
        ),
        "prod": StageConfig(
            name="prod",
            nat_gateways=2,
            lambda_memory_mib=3008,
            lambda_reserved_concurrency=200,
            lambda_provisioned_concurrency=2,
            lambda_canary_deployment=True,
            fargate_min_tasks=2,
            fargate_max_tasks=10,
            eks_min_replicas=2,
            eks_max_replicas=10,
            sagemaker_mode="real-time",
            sagemaker_min_instances=2,
            sagemaker_max_instances=6,
            sagemaker_data_capture_percent=10,
            log_retention=logs.RetentionDays.THREE_MONTHS,
            flow_log_retention=logs.RetentionDays.THREE_MONTHS,
            removal_policy=RemovalPolicy.RETAIN,
            alarm_error_count=1,
            alarm_p99_duration_ms=3000,
            alarm_http_5xx_count=1,
            alarm_error_rate_percent=1.0,
            tracing=True,
            monthly_budget_usd=2000.0,

            load_balancer_deletion_protection=True,

            fargate_rollback_on_alarms=True,
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


# Delivery pipeline (MlInference-Pipeline, `-c pipeline=true`): one for the app, not per stage.
#: What the source holds until you set it: these synthesize, and deploying the pipeline with any of
#: them fails at once with a message that says what to set.
PLACEHOLDER_REPOSITORY = "OWNER/REPOSITORY"
PLACEHOLDER_CONNECTION_ARN = (
    "arn:aws:codeconnections:us-east-1:000000000000:connection/00000000-0000-0000-0000-000000000000"
)
_REPOSITORY = re.compile(r"^[\w.-]+/[\w./-]+$")
_CONNECTION_ARN = re.compile(r"^arn:aws[a-z-]*:(codeconnections|codestar-connections):[a-z0-9-]+:\d{12}:connection/[\w-]+$")


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    """The delivery pipeline: where the code comes from, the stages it deploys in order, and what
    its smoke steps check. The pipeline deploys each stage's StageConfig (its account, region and
    targets)."""

    #: The repository, "owner/name", on GitHub, GitHub Enterprise, GitLab or Bitbucket.
    repository: str = PLACEHOLDER_REPOSITORY
    #: The branch whose pushes run the pipeline.
    branch: str = "main"
    #: The CodeConnections connection to the repository's host (create it, then complete the
    #: handshake in the console: README "Delivery pipeline").
    connection_arn: str = PLACEHOLDER_CONNECTION_ARN
    #: The pipeline's account; None: the account of the credentials that deploy it. Set it when a
    #: stage names an account of its own.
    account: Optional[str] = None
    region: str = "us-east-1"
    #: The stages it deploys, in order (names from STAGES).
    stages: tuple[str, ...] = ("dev", "staging", "prod")
    #: The stages that wait for a manual approval before they deploy.
    approval_before: tuple[str, ...] = ("prod",)
    #: How long the pipeline's build logs (synth, assets, smoke steps) are kept.
    log_retention: logs.RetentionDays = logs.RetentionDays.THREE_MONTHS
    #: The CDK CLI the pipeline runs (self-mutation, asset publishing): the version package.json pins.
    cdk_cli_version: str = "2.1148.1"
    #: The cdk-assets the asset-publishing steps install (pinned: `latest` would change under you).
    cdk_assets_version: str = "4.7.3"
    #: Smoke tests (each stage's StageConfig.model_labels are the labels they accept): the p95
    #: bound over 20 sequential requests, and how long a fresh deploy may take to answer (an
    #: Ingress's load balancer, a scale-from-zero endpoint).
    smoke_p95_ms: int = 1000
    smoke_wait_seconds: int = 900

    def __post_init__(self) -> None:
        if not _REPOSITORY.match(self.repository):
            raise ValueError(f"pipeline repository must be \"owner/name\", got {self.repository!r}")
        if not _CONNECTION_ARN.match(self.connection_arn):
            raise ValueError(
                "pipeline connection_arn must be a CodeConnections ARN "
                f"(arn:aws:codeconnections:REGION:ACCOUNT:connection/ID), got {self.connection_arn!r}"
            )
        if not self.branch.strip():
            raise ValueError("pipeline branch must not be empty")
        unknown = [name for name in (*self.stages, *self.approval_before) if name not in STAGES]
        if unknown or not self.stages or len(set(self.stages)) != len(self.stages):
            raise ValueError(
                f"pipeline stages must be distinct names from {', '.join(STAGES)}, got {self.stages!r}"
                + (f" (approval_before {self.approval_before!r})" if self.approval_before else "")
            )
        if not set(self.approval_before) <= set(self.stages):
            raise ValueError(f"pipeline approval_before {self.approval_before!r} names stages it does not deploy")
        if self.smoke_p95_ms <= 0 or self.smoke_wait_seconds < 0:
            raise ValueError("pipeline smoke_p95_ms must be above 0 and smoke_wait_seconds 0 or more")

    @property
    def placeholders(self) -> tuple[str, ...]:
        """The source settings still at their placeholder values ("repository", "connection_arn")."""
        unset = {"repository": self.repository == PLACEHOLDER_REPOSITORY,
                 "connection_arn": self.connection_arn == PLACEHOLDER_CONNECTION_ARN}
        return tuple(name for name, placeholder in unset.items() if placeholder)

    def stage_configs(self) -> tuple[StageConfig, ...]:
        """The StageConfigs it deploys, in order."""
        return tuple(STAGES[name] for name in self.stages)


PIPELINE = PipelineConfig()
