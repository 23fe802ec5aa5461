"""InferenceDashboard: one CloudWatch dashboard across the inference targets of a stage."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Callable, Optional, Union

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from ._service_metrics import ServiceMetrics, ServiceMonitoring
from .eks import EksInference
from .fargate_inference import FargateInference
from .lambda_inference import LambdaInference
from .sagemaker import EndpointMode, SageMakerEndpoint

#: What the dashboard shows: any of the four inference constructs.
InferenceTarget = Union[LambdaInference, FargateInference, EksInference, SageMakerEndpoint]

_ONE_MINUTE = Duration.minutes(1)
_FIVE_MINUTES = Duration.minutes(5)
_HEIGHT = 6
_FULL_WIDTH = 24
# CloudWatch's limit for one alarm status widget.
_ALARMS_PER_WIDGET = 100


class InferenceDashboard(Construct):
    """A CloudWatch dashboard of `targets`, from the service's own (EMF) metrics where every target
    has them and from each service's AWS metrics where only it has them.

    Rows: the alarms; request latency p50 and p99 per platform; requests, 5xx error rate and
    overload refusals; cold starts, queue wait and texts per request; active compute (Lambda
    concurrency, ECS running tasks, EKS running pods, SageMaker instances or serverless
    concurrency); SageMaker ModelLatency and OverheadLatency; the Fargate load balancer's 5xx and
    response time; the drift signal (label shares, mean confidence). Rows of a target that is
    not given are left out. `README.md` ("Operating it") says what each one means.

    Minimal use::

        InferenceDashboard(stack, "Dashboard", targets=[lambda_stack.inference], title="ML inference (dev)")
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        targets: Sequence[InferenceTarget],
        title: str = "ML inference",
        monitoring: Optional[ServiceMonitoring] = None,
        default_interval: Optional[Duration] = None,
    ) -> None:
        """
        :param targets: the inference constructs to show (one or more).
        :param title: the heading of the dashboard.
        :param monitoring: where the thresholds drawn on the graphs come from (error rate, label
            share band, confidence floor): the targets' own. Default: `ServiceMonitoring()`.
        :param default_interval: the time range the dashboard opens with. Default: 6 hours.
        """
        super().__init__(scope, construct_id)
        if not targets:
            raise ValueError("targets must name at least one inference construct")
        unknown = [t for t in targets if not isinstance(t, (LambdaInference, FargateInference, EksInference, SageMakerEndpoint))]
        if unknown:
            raise ValueError(f"targets must be LambdaInference, FargateInference, EksInference or SageMakerEndpoint, got {unknown}")
        #: The targets shown.
        self.targets = list(targets)
        self._monitoring = monitoring or ServiceMonitoring()
        self._names = _display_names(self.targets)
        alarms = [alarm for target in self.targets for alarm in target.alarms.values()]
        rows = [
            [self._heading(title)],
            [
                cloudwatch.AlarmStatusWidget(
                    title="Alarms",
                    alarms=alarms[start : start + _ALARMS_PER_WIDGET],
                    width=_FULL_WIDTH,
                    height=_HEIGHT,
                    sort_by=cloudwatch.AlarmStatusWidgetSortBy.STATE_UPDATED_TIMESTAMP,
                )
                for start in range(0, len(alarms), _ALARMS_PER_WIDGET)
            ],
            self._service_row(),
            self._traffic_row(),
            self._load_row(),
            self._compute_row(),
            self._sagemaker_row(),
            self._load_balancer_row(),
            self._drift_row(),
        ]
        #: The CloudWatch dashboard (CloudFormation names it; the stack outputs its URL).
        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            default_interval=default_interval or Duration.hours(6),
            widgets=[row for row in rows if row],
        )

    # -- rows ---------------------------------------------------------------------------------

    def _heading(self, title: str) -> cloudwatch.TextWidget:
        lines = [f"# {title}", "Targets: " + ", ".join(self._names.values()) + ".", ""]
        lines.append(
            "Service metrics (EMF, namespace `" + self._monitoring.namespace + "`) are what the inference "
            "service measured itself, the same on every target. See README.md, \"Operating it\", for what "
            "each graph and alarm means and what to do when one fires."
        )
        if any(isinstance(t, EksInference) for t in self.targets):
            lines.append(
                "EKS: its load balancer is made by Auto Mode outside CloudFormation, so its 5xx and latency "
                "come from the service metrics here."
            )
        return cloudwatch.TextWidget(markdown="\n".join(lines), width=_FULL_WIDTH, height=3)

    def _service_row(self) -> list[cloudwatch.IWidget]:
        return [
            self._per_target("Request latency p50 (ms)", lambda m, _: m.request_latency(statistic="p50", period=_ONE_MINUTE), 12),
            self._per_target(
                "Request latency p99 (ms)",
                lambda m, _: m.request_latency(statistic="p99", period=_ONE_MINUTE),
                12,
                annotation=("alarm", self._monitoring.p99_latency.to_milliseconds()),
            ),
        ]

    def _traffic_row(self) -> list[cloudwatch.IWidget]:
        return [
            self._per_target("Requests per minute", lambda m, _: m.requests(period=_ONE_MINUTE)),
            self._per_target(
                "5xx error rate (%)",
                lambda m, prefix: m.error_rate(period=_ONE_MINUTE, id_prefix=prefix),
                annotation=("alarm", self._monitoring.error_rate_percent),
            ),
            self._per_target("4xx per minute", lambda m, _: m.requests("4xx", period=_ONE_MINUTE)),
            self._per_target("Overload refusals per minute", lambda m, _: m.metric("Overloaded", statistic="Sum", period=_ONE_MINUTE)),
        ]

    def _load_row(self) -> list[cloudwatch.IWidget]:
        return [
            self._per_target("Cold starts", lambda m, _: m.metric("ColdStart", statistic="Sum", period=_FIVE_MINUTES), 6),
            self._per_target("Model load time (ms)", lambda m, _: m.metric("ModelLoadTime", statistic="Maximum", period=_FIVE_MINUTES), 6),
            self._per_target("Queue wait p99 (ms)", lambda m, _: m.metric("QueueWait", statistic="p99", period=_ONE_MINUTE), 6),
            self._per_target("Texts per request (mean)", lambda m, _: m.metric("TextsPerRequest", statistic="Average", period=_FIVE_MINUTES), 6),
        ]

    def _compute_row(self) -> list[cloudwatch.IWidget]:
        graphs: list[tuple[str, list[cloudwatch.IMetric], Optional[tuple[str, float]]]] = []
        for index, target in enumerate(self.targets):
            name = self._names[id(target)]
            if isinstance(target, LambdaInference):
                concurrency = target.metric("ConcurrentExecutions", statistic="Maximum", period=_ONE_MINUTE, label="concurrent executions")
                graphs.append((f"{name}: concurrent executions", [concurrency], None))
            elif isinstance(target, FargateInference):
                tasks = target.metric_running_tasks(statistic="Average", period=_ONE_MINUTE, label="running tasks")
                graphs.append((f"{name}: running tasks", [tasks], ("minimum", target.min_tasks)))
            elif isinstance(target, EksInference):
                if target.container_insights:
                    pods = target.metric_running_pods(statistic="Average", period=_ONE_MINUTE, label="running pods")
                    graphs.append((f"{name}: running pods", [pods], None))
            elif target.mode is EndpointMode.SERVERLESS:
                utilization = target.metric(
                    "ServerlessConcurrentExecutionsUtilization", statistic="Maximum", period=_ONE_MINUTE, label="of max concurrency"
                )
                graphs.append((f"{name}: serverless concurrency (share of max)", [utilization], None))
            else:
                # SageMaker publishes no instance count: Invocations / InvocationsPerInstance is it while traffic flows.
                instances = cloudwatch.MathExpression(
                    expression=f"t{index}_invocations / t{index}_per_instance",
                    using_metrics={
                        f"t{index}_invocations": target.metric_invocations(period=_ONE_MINUTE),
                        f"t{index}_per_instance": target.metric("InvocationsPerInstance", statistic="Sum", period=_ONE_MINUTE),
                    },
                    label="instances serving (no data while idle)",
                    period=_ONE_MINUTE,
                )
                graphs.append((f"{name}: instances", [instances], None))
        width = _row_width(len(graphs))
        return [_graph(title, metrics, width=width, annotation=annotation) for title, metrics, annotation in graphs]

    def _sagemaker_row(self) -> list[cloudwatch.IWidget]:
        widgets: list[cloudwatch.IWidget] = []
        for target in self.targets:
            if not isinstance(target, SageMakerEndpoint):
                continue
            name = self._names[id(target)]
            latency = [
                target.metric_model_latency(statistic=statistic, period=_ONE_MINUTE, label=f"ModelLatency {statistic}")
                for statistic in ("p50", "p99")
            ] + [target.metric_overhead_latency(statistic="p99", period=_ONE_MINUTE, label="OverheadLatency p99")]
            errors = [
                target.metric_invocation_4xx_errors(period=_ONE_MINUTE, label="4xx"),
                target.metric_invocation_5xx_errors(period=_ONE_MINUTE, label="5xx"),
                target.metric_invocations(period=_ONE_MINUTE, label="invocations"),
            ]
            widgets.append(_graph(f"{name}: ModelLatency and OverheadLatency (µs)", latency, width=12))
            widgets.append(_graph(f"{name}: invocations and errors per minute", errors, width=12))
        return widgets

    def _load_balancer_row(self) -> list[cloudwatch.IWidget]:
        widgets: list[cloudwatch.IWidget] = []
        for index, target in enumerate(self.targets):
            if not isinstance(target, FargateInference):
                continue
            name = self._names[id(target)]
            elb, tasks, latency = _load_balancer_metrics(target)
            five_xx = cloudwatch.MathExpression(
                expression=f"FILL(t{index}_elb, 0) + FILL(t{index}_tasks, 0)",
                using_metrics={f"t{index}_elb": elb, f"t{index}_tasks": tasks},
                label="5xx (load balancer + tasks)",
                period=_ONE_MINUTE,
            )
            widgets.append(_graph(f"{name}: load balancer 5xx per minute (ALB and tasks)", [five_xx, elb, tasks], width=12))
            widgets.append(_graph(f"{name}: load balancer target response time p99 (s)", [latency], width=12))
        return widgets

    def _drift_row(self) -> list[cloudwatch.IWidget]:
        drift = self._monitoring.drift
        period = drift.period if drift is not None else Duration.hours(1)
        labels = list(dict.fromkeys(label for t in self.targets for label in t.service_metrics.labels))
        width = _row_width(len(labels) + 1)
        widgets: list[cloudwatch.IWidget] = []
        for label in labels:
            def share(m: ServiceMetrics, prefix: str, label: str = label) -> Optional[cloudwatch.IMetric]:
                return m.label_share(label, period=period, id_prefix=prefix) if label in m.labels else None

            band = drift.label_share_percent if drift is not None else None
            widgets.append(self._per_target(f"Drift: {label} share of predictions (%)", share, width, band=band))
        floor = drift.min_mean_confidence if drift is not None else None
        widgets.append(
            self._per_target(
                "Drift: mean confidence",
                lambda m, _: m.mean_confidence(period=period),
                width,
                annotation=("alarm floor", floor) if floor is not None else None,
            )
        )
        return widgets

    # -- building blocks ----------------------------------------------------------------------

    def _per_target(
        self,
        title: str,
        metric: Callable[[ServiceMetrics, str], Optional[cloudwatch.IMetric]],
        width: int = 6,
        *,
        annotation: Optional[tuple[str, float]] = None,
        band: Optional[tuple[float, float]] = None,
    ) -> cloudwatch.GraphWidget:
        """One graph, one line per target; expression ids carry the target's index (t0_, t1_...)."""
        lines = []
        for index, target in enumerate(self.targets):
            line = metric(target.service_metrics, f"t{index}")
            if line is not None:
                lines.append(_relabel(line, self._names[id(target)]))
        annotations = [cloudwatch.HorizontalAnnotation(value=annotation[1], label=annotation[0])] if annotation else []
        if band is not None:
            annotations += [
                cloudwatch.HorizontalAnnotation(value=band[0], label="band low", fill=cloudwatch.Shading.BELOW),
                cloudwatch.HorizontalAnnotation(value=band[1], label="band high", fill=cloudwatch.Shading.ABOVE),
            ]
        return _graph(title, lines, width=width, annotations=annotations)


def _graph(
    title: str,
    metrics: Sequence[cloudwatch.IMetric],
    *,
    width: int = 6,
    annotation: Optional[tuple[str, float]] = None,
    annotations: Sequence[cloudwatch.HorizontalAnnotation] = (),
) -> cloudwatch.GraphWidget:
    extra = [cloudwatch.HorizontalAnnotation(value=annotation[1], label=annotation[0])] if annotation else []
    return cloudwatch.GraphWidget(
        title=title,
        left=list(metrics),
        left_annotations=[*annotations, *extra] or None,
        width=width,
        height=_HEIGHT,
        legend_position=cloudwatch.LegendPosition.BOTTOM,
    )


def _load_balancer_metrics(target: FargateInference) -> tuple[cloudwatch.Metric, cloudwatch.Metric, cloudwatch.Metric]:
    """ALB 5xx (its own, the tasks') and target response time p99, on attributes that cross stacks
    as plain values (the target group's own metrics derive the load balancer's name from the
    listener's ARN with Fn::Split, which another stack cannot take from an output)."""
    dimensions = {
        "LoadBalancer": target.load_balancer.load_balancer_full_name,
        "TargetGroup": target.target_group.target_group_full_name,
    }

    def alb(metric_name: str, statistic: str, label: str, **extra: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace="AWS/ApplicationELB", metric_name=metric_name, dimensions_map=extra or dimensions,
            statistic=statistic, period=_ONE_MINUTE, label=label,
        )

    return (
        alb("HTTPCode_ELB_5XX_Count", "Sum", "load balancer 5xx", LoadBalancer=dimensions["LoadBalancer"]),
        alb("HTTPCode_Target_5XX_Count", "Sum", "task 5xx"),
        alb("TargetResponseTime", "p99", "p99"),
    )


def _relabel(line: cloudwatch.IMetric, label: str) -> cloudwatch.IMetric:
    if isinstance(line, (cloudwatch.Metric, cloudwatch.MathExpression)):
        return line.with_(label=label)
    raise TypeError(f"cannot relabel {line!r}")


def _row_width(count: int) -> int:
    """The width of each of `count` graphs in a row: the row's share, at least a quarter."""
    return max(6, _FULL_WIDTH // max(count, 1))


_PLATFORM_NAMES = {"lambda": "Lambda", "fargate": "Fargate", "eks": "EKS", "sagemaker": "SageMaker"}


def _display_names(targets: Sequence[InferenceTarget]) -> dict[int, str]:
    """Each target's name on the graphs: its platform, with its construct id where two share one."""
    platforms = [_PLATFORM_NAMES.get(t.service_metrics.platform, t.service_metrics.platform) for t in targets]
    return {
        id(t): (p if platforms.count(p) == 1 else f"{p} ({t.node.id})") for t, p in zip(targets, platforms)
    }


__all__ = ["InferenceDashboard", "InferenceTarget"]
