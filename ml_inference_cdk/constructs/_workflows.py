"""What the state machines built on EventBridge events share: logged, traced, bounded state
machines with an alarm on failed executions, and DeduplicatedStart, which starts one once per
computed execution name however many events arrive (duplicate deliveries, bursts of uploads)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from ._alarms import SPIKE, AlarmSet
from ._iam import WildcardSplittingRole


def logged_state_machine(
    scope: Construct,
    *,
    definition: sfn.IChainable,
    timeout: Duration,
    log_retention: logs.RetentionDays,
    removal_policy: RemovalPolicy,
    express: bool = False,
) -> tuple[sfn.StateMachine, logs.LogGroup]:
    """`StateMachine`, its `Role` and `Logs` in `scope`: every event logged (without execution data,
    which may hold S3 keys and metrics), X-Ray tracing, `timeout` on each execution. The role keeps
    each grant on "*" in a policy of its own (`WildcardSplittingRole`); acknowledge the scoped
    grants with `acknowledge_grant(state_machine.role, ...)`."""
    role = WildcardSplittingRole(scope, "Role", assumed_by=iam.ServicePrincipal("states.amazonaws.com"))
    log_group = logs.LogGroup(scope, "Logs", retention=log_retention, removal_policy=removal_policy)
    state_machine = sfn.StateMachine(
        scope,
        "StateMachine",
        definition_body=sfn.DefinitionBody.from_chainable(definition),
        state_machine_type=sfn.StateMachineType.EXPRESS if express else sfn.StateMachineType.STANDARD,
        timeout=timeout,
        tracing_enabled=True,
        logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
        role=role,
    )
    return state_machine, log_group


def failed_executions_alarm(
    scope: Construct, state_machine: sfn.StateMachine, topic: sns.ITopic, *, what: str
) -> cloudwatch.Alarm:
    """An alarm, notifying `topic`, on any execution of `state_machine` that fails or times out."""
    period = Duration.minutes(5)
    metric = cloudwatch.MathExpression(
        expression="FILL(failed, 0) + FILL(timed_out, 0)",
        using_metrics={
            "failed": state_machine.metric_failed(period=period, statistic="Sum"),
            "timed_out": state_machine.metric_timed_out(period=period, statistic="Sum"),
        },
        period=period,
        label="Failed or timed-out executions",
    )
    alarms = AlarmSet(scope, topic)
    return alarms.add(
        "failed_executions",
        "FailedExecutionsAlarm",
        description=f"An execution of {what} failed or timed out",
        metric=metric,
        threshold=1,
        evaluation=SPIKE,
    )


def notify(scope: Construct, construct_id: str, topic: sns.ITopic, subject: str, message: Mapping[str, Any]) -> tasks.SnsPublish:
    """A state that publishes `message` (a JSON object over the state's input) to `topic`."""
    return tasks.SnsPublish(scope, construct_id, topic=topic, subject=subject,
                            message=sfn.TaskInput.from_object(dict(message)), result_path=sfn.JsonPath.DISCARD)


def guarded(scope: Construct, steps: sfn.IChainable, *, topic: sns.ITopic, subject: str, error: str,
            details: Optional[Mapping[str, Any]] = None) -> sfn.Chain:
    """`steps` inside a Parallel state "Run" whose catch-all notifies `topic` (NotifyFailed: the
    error, its cause, the execution and `details`) and fails the execution with `error`."""
    run = sfn.Parallel(scope, "Run", comment="Every step; any error ends in NotifyFailed", result_path=sfn.JsonPath.DISCARD)
    run.branch(steps)
    failed = notify(scope, "NotifyFailed", topic, subject, {
        "result": "failed", "execution": sfn.JsonPath.string_at("$$.Execution.Id"), **(details or {}),
        "error": sfn.JsonPath.string_at("$.error.Error"), "cause": sfn.JsonPath.string_at("$.error.Cause"),
    })
    run.add_catch(failed.next(sfn.Fail(scope, "Failed", error=error,
                                       cause="A step failed: see the notification and the execution history")),
                  result_path="$.error")
    return run.next(sfn.Succeed(scope, "Done"))


#: The error StartExecution raises for a name that an execution of the target already has.
ALREADY_EXISTS = "StepFunctions.ExecutionAlreadyExistsException"


class DeduplicatedStart(Construct):
    """An Express state machine that starts `target` with the execution name `name` computes from
    the event it gets (an EventBridge event, as an EventBridge rule delivers it).

    A Standard workflow's execution names are unique for 90 days: a second StartExecution with a
    name already used starts nothing (it answers ExecutionAlreadyExists, or the running
    execution when the input is the same). So every event that computes the same name (the
    same object, the same clock hour, the same event id) starts one execution, and EventBridge's
    own targets, which cannot name an execution, are not used for the target directly.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        target: sfn.IStateMachine,
        name: str,
        target_input: Mapping[str, Any],
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
        alarm_topic: Optional[sns.ITopic] = None,
    ) -> None:
        """
        :param target: the Standard state machine to start.
        :param name: a JSONPath intrinsic over the event that gives the execution name (at most
            80 characters of letters, digits, '-' and '_'), e.g.
            "States.Format('data-{}', States.ArrayGetItem(States.StringSplit($.time, ':'), 0))".
        :param target_input: the target's input, a Parameters template over the event.
        :param alarm_topic: an alarm on failed starts (say, a lost permission) notifies it. Default: none.
        """
        super().__init__(scope, construct_id)
        prepare = sfn.Pass(
            self,
            "NameTheRun",
            comment="The execution name that makes a duplicate start nothing",
            parameters={"name.$": name, "input": dict(target_input)},
        )
        start = tasks.StepFunctionsStartExecution(
            self,
            "StartOnce",
            state_machine=target,
            name=sfn.JsonPath.string_at("$.name"),
            input=sfn.TaskInput.from_json_path_at("$.input"),
            integration_pattern=sfn.IntegrationPattern.REQUEST_RESPONSE,
            result_path=sfn.JsonPath.DISCARD,
        )
        start.add_catch(sfn.Succeed(self, "AlreadyStarted", comment="A run of this name exists: nothing to do"),
                        errors=[ALREADY_EXISTS], result_path=sfn.JsonPath.DISCARD)
        #: The Express state machine that EventBridge rules target.
        self.state_machine, self.log_group = logged_state_machine(
            self,
            definition=prepare.next(start),
            timeout=Duration.minutes(1),
            log_retention=log_retention,
            removal_policy=removal_policy,
            express=True,
        )
        #: The alarm on failed starts (with `alarm_topic`); else None: events would be dropped unseen.
        self.alarm = (failed_executions_alarm(self, self.state_machine, alarm_topic, what=f"{self.node.path} (starts)")
                      if alarm_topic is not None else None)


__all__ = ["ALREADY_EXISTS", "DeduplicatedStart", "failed_executions_alarm", "guarded", "logged_state_machine", "notify"]
