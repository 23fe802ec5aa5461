"""ModelRollout: an approved model package goes to production. The SageMaker endpoint moves to the
package's model data under its own blue/green guardrails; a delivery pipeline, when given, is started
with the package's ARN so the image-based targets rebuild with it."""

from __future__ import annotations

from typing import Any, Optional

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from .._checks import iam5_resource_finding
from .._iam import acknowledge_grant
from .._workflows import guarded, logged_state_machine, notify
from ..sagemaker.capacity import VARIANT_NAME
from ..sagemaker.endpoint import SageMakerEndpoint

#: The delivery pipeline variable that carries the approved package's ARN (docs/model-lifecycle.md).
MODEL_PACKAGE_VARIABLE = "MODEL_PACKAGE_ARN"
#: Endpoint states that mean "not done yet".
_IN_PROGRESS = ("Creating", "Updating", "SystemUpdating", "RollingBack")


class ModelRollout(Construct):
    """A state machine whose input is `{"ModelPackageArn": "..."}` (the approval rule sends the
    approved package; start it by hand with an older package to roll back).

    With `endpoint`: DescribeModelPackage → the endpoint's current config and model → CreateModel
    (the current image, role, environment and network, the package's model data) →
    CreateEndpointConfig (the current variant, encryption, capture and async settings) →
    UpdateEndpoint (keeping the instance count, and the blue/green policy with its rollback
    alarms that CloudFormation set) → poll until InService on the new config, or fail when the
    alarms rolled it back. With `delivery_pipeline`: StartPipelineExecution with the variable
    `MODEL_PACKAGE_ARN`. Either outcome notifies `topic`.

    CloudFormation does not know about the new config: see docs/model-lifecycle.md (drift).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        model_package_group_name: str,
        bucket: s3.IBucket,
        key: kms.IKey,
        models_prefix: str,
        topic: sns.ITopic,
        name_prefix: str,
        endpoint: Optional[SageMakerEndpoint] = None,
        delivery_pipeline: Optional[codepipeline.IPipeline] = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.TWO_WEEKS,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, construct_id)
        if endpoint is None and delivery_pipeline is None:
            raise ValueError("a roll-out needs an endpoint, a delivery_pipeline, or both")
        self._prefix = name_prefix
        stack = Stack.of(self)
        packages = stack.format_arn(service="sagemaker", resource="model-package",
                                    resource_name=f"{model_package_group_name}/*")
        describe = tasks.CallAwsService(
            self,
            "DescribePackage",
            service="sagemaker",
            action="describeModelPackage",
            parameters={"ModelPackageName": sfn.JsonPath.string_at("$.ModelPackageArn")},
            iam_resources=[packages],
            result_selector={
                "arn.$": "$.ModelPackageArn",
                "model_uri.$": "$.InferenceSpecification.Containers[0].ModelDataSource.S3DataSource.S3Uri",
            },
            result_path="$.package",
        )
        chain = sfn.Chain.start(describe)
        if delivery_pipeline is not None:
            chain = chain.next(tasks.CallAwsService(
                self,
                "StartDeliveryPipeline",
                comment=f"The pipeline rebuilds the images with this model (variable {MODEL_PACKAGE_VARIABLE})",
                service="codepipeline",
                action="startPipelineExecution",
                parameters={"Name": delivery_pipeline.pipeline_name, "Variables": [
                    {"Name": MODEL_PACKAGE_VARIABLE, "Value": sfn.JsonPath.string_at("$.package.arn")}]},
                iam_resources=[delivery_pipeline.pipeline_arn],
                result_selector={"execution_id.$": "$.PipelineExecutionId"},
                result_path="$.pipeline",
            ))
        if endpoint is not None:
            chain = chain.next(self._endpoint_update(endpoint, bucket, key, models_prefix))
        done_message: dict[str, Any] = {"result": "rolled out", "model_package_arn": sfn.JsonPath.string_at("$.package.arn")}
        if endpoint is not None:
            done_message["endpoint_config"] = sfn.JsonPath.string_at("$.names.config")
        if delivery_pipeline is not None:
            done_message["pipeline_execution"] = sfn.JsonPath.string_at("$.pipeline.execution_id")
        notify_done = notify(self, "NotifyRolledOut", topic, "Approved model rolled out", done_message)
        definition = guarded(self, chain.next(notify_done), topic=topic, subject="Model roll-out failed", error="RolloutFailed",
                             details={"model_package_arn": sfn.JsonPath.string_at("$.ModelPackageArn")})
        #: The roll-out state machine and its log group.
        self.state_machine, self.log_group = logged_state_machine(
            self, definition=definition, timeout=Duration.hours(3),
            log_retention=log_retention, removal_policy=removal_policy,
        )
        acknowledgments = [Acknowledgment(
            id=iam5_resource_finding(self, packages),
            reason="Model package versions are numbered by SageMaker as they are created in this group.")]
        if endpoint is not None:
            for resource, name, reason in (
                ("model", f"{name_prefix}-*", "Each roll-out creates a model named after its execution, under this prefix."),
                ("endpoint-config", f"{name_prefix}-*", "Each roll-out creates an endpoint config named after its execution."),
                ("model", "*", "The endpoint's current model is read to copy it; its name is CloudFormation's or a roll-out's."),
                ("endpoint-config", "*", "The endpoint's current config is read to copy it; its name is not known at deploy time."),
            ):
                acknowledgments.append(Acknowledgment(
                    id=iam5_resource_finding(self, stack.format_arn(service="sagemaker", resource=resource, resource_name=name)),
                    reason=reason))
        for acknowledgment in acknowledgments:
            acknowledge_grant(self.state_machine.role, acknowledgment.id, acknowledgment.reason)

    def _endpoint_update(self, endpoint: SageMakerEndpoint, bucket: s3.IBucket, key: kms.IKey,
                         models_prefix: str) -> sfn.IChainable:
        prefix = self._prefix
        name = f"States.Format('{prefix}-{{}}', $$.Execution.Name)"
        names = sfn.Pass(self, "NameResources", comment="The new model and endpoint config share a name",
                         parameters={"model.$": name, "config.$": name}, result_path="$.names")

        def call(state_id: str, action: str, parameters: dict[str, Any], resources: list[str], **kwargs: Any) -> tasks.CallAwsService:
            return tasks.CallAwsService(self, state_id, service="sagemaker", action=action, parameters=parameters,
                                        iam_resources=resources, **kwargs)

        stack = Stack.of(self)

        def arn(resource: str, name: str) -> str:
            return stack.format_arn(service="sagemaker", resource=resource, resource_name=name)

        new_models, new_configs = arn("model", f"{prefix}-*"), arn("endpoint-config", f"{prefix}-*")
        current = call("DescribeEndpoint", "describeEndpoint", {"EndpointName": endpoint.endpoint_name},
                       [endpoint.endpoint_arn], result_selector={"config.$": "$.EndpointConfigName"},
                       result_path="$.endpoint")
        config = call("DescribeEndpointConfig", "describeEndpointConfig",
                      {"EndpointConfigName": sfn.JsonPath.string_at("$.endpoint.config")}, [arn("endpoint-config", "*")],
                      result_path="$.current_config")
        model = call("DescribeModel", "describeModel",
                     {"ModelName": sfn.JsonPath.string_at("$.current_config.ProductionVariants[0].ModelName")},
                     [arn("model", "*")], result_path="$.current_model")
        container = {
            "Image": sfn.JsonPath.string_at("$.current_model.PrimaryContainer.Image"),
            "Environment": sfn.JsonPath.object_at("$.current_model.PrimaryContainer.Environment"),
            "ModelDataSource": {"S3DataSource": {"S3Uri": sfn.JsonPath.string_at("$.package.model_uri"),
                                                 "S3DataType": "S3Prefix", "CompressionType": "None"}},
        }
        model_props: dict[str, Any] = {
            "ModelName": sfn.JsonPath.string_at("$.names.model"),
            "ExecutionRoleArn": sfn.JsonPath.string_at("$.current_model.ExecutionRoleArn"),
            "PrimaryContainer": container,
            "EnableNetworkIsolation": sfn.JsonPath.string_at("$.current_model.EnableNetworkIsolation"),
        }
        if endpoint.model.vpc_config is not None:
            model_props["VpcConfig"] = sfn.JsonPath.object_at("$.current_model.VpcConfig")
        create_model = call("CreateModel", "createModel", model_props, [new_models], result_path=sfn.JsonPath.DISCARD,
                            additional_iam_statements=_update_statements(endpoint)[:1])

        variant_path = "$.current_config.ProductionVariants[0]"
        variant: dict[str, Any] = {"VariantName": VARIANT_NAME, "ModelName": sfn.JsonPath.string_at("$.names.model"),
                                   "InitialVariantWeight": 1}
        instances = endpoint.capacity.instance_type is not None
        if instances:
            for field in ("InstanceType", "ContainerStartupHealthCheckTimeoutInSeconds", "ModelDataDownloadTimeoutInSeconds"):
                variant[field] = sfn.JsonPath.string_at(f"{variant_path}.{field}")
            variant["InitialInstanceCount"] = sfn.JsonPath.number_at(f"{variant_path}.InitialInstanceCount")
        else:
            variant["ServerlessConfig"] = sfn.JsonPath.object_at(f"{variant_path}.ServerlessConfig")
        config_props: dict[str, Any] = {"EndpointConfigName": sfn.JsonPath.string_at("$.names.config"),
                                        "ProductionVariants": [variant]}
        source = endpoint.endpoint_config
        for field, present in (("KmsKeyId", source.kms_key_id), ("DataCaptureConfig", source.data_capture_config),
                               ("AsyncInferenceConfig", source.async_inference_config)):
            if present is not None:
                config_props[field] = sfn.JsonPath.object_at(f"$.current_config.{field}")
        create_config = call("CreateEndpointConfig", "createEndpointConfig", config_props, [new_configs],
                             result_path=sfn.JsonPath.DISCARD, additional_iam_statements=_update_statements(endpoint)[1:])
        update_props: dict[str, Any] = {"EndpointName": endpoint.endpoint_name,
                                        "EndpointConfigName": sfn.JsonPath.string_at("$.names.config")}
        if instances:
            update_props["RetainAllVariantProperties"] = True  # autoscaling's current instance count stays
        if endpoint.capacity.traffic_shifting is not None:
            update_props["RetainDeploymentConfig"] = True  # the canary/linear policy and rollback alarms
        update = call("UpdateEndpoint", "updateEndpoint", update_props, [endpoint.endpoint_arn, new_configs],
                      result_path=sfn.JsonPath.DISCARD)

        wait = sfn.Wait(self, "WaitForUpdate", time=sfn.WaitTime.duration(Duration.minutes(1)))
        check = call("CheckEndpoint", "describeEndpoint", {"EndpointName": endpoint.endpoint_name}, [endpoint.endpoint_arn],
                     result_selector={"status.$": "$.EndpointStatus", "config.$": "$.EndpointConfigName"},
                     result_path="$.endpoint_now")
        in_progress = sfn.Condition.or_(*(sfn.Condition.string_equals("$.endpoint_now.status", s) for s in _IN_PROGRESS))
        on_new = sfn.Condition.and_(sfn.Condition.string_equals("$.endpoint_now.status", "InService"),
                                    sfn.Condition.string_equals_json_path("$.endpoint_now.config", "$.names.config"))
        rolled_back = sfn.Condition.string_equals("$.endpoint_now.status", "InService")
        done = sfn.Pass(self, "EndpointUpdated")
        outcome = (
            sfn.Choice(self, "UpdateOutcome")
            .when(in_progress, wait)
            .when(on_new, done)
            .when(rolled_back, sfn.Fail(self, "RolledBack", error="RolledBack",
                                        cause="The endpoint is in service on its previous config: its alarms rolled the update back"))
            .otherwise(sfn.Fail(self, "UpdateFailed", error="EndpointUpdateFailed", cause="The endpoint update failed"))
        )
        wait.next(check).next(outcome)
        names.next(current).next(config).next(model).next(create_model).next(create_config).next(update).next(wait)
        self._grant_model_access(endpoint, bucket, key, models_prefix)
        return sfn.Chain.custom(names, [done], done)

    def _grant_model_access(self, endpoint: SageMakerEndpoint, bucket: s3.IBucket, key: kms.IKey, models_prefix: str) -> None:
        """The endpoint's execution role reads the packages' model directories (it loads them)."""
        role = endpoint.role
        if Stack.of(role) is not Stack.of(self):
            # A policy in this stack, attached to the other stack's role: no reference back, no cycle.
            role = iam.Role.from_role_name(self, "EndpointRole", endpoint.role.role_name)
        objects = bucket.arn_for_objects(f"{models_prefix}*")
        policy = iam.Policy(self, "EndpointModelAccess", roles=[role], statements=[
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[objects]),
            iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket.bucket_arn],
                                conditions={"StringLike": {"s3:prefix": f"{models_prefix}*"}}),
            iam.PolicyStatement(actions=["kms:Decrypt"], resources=[key.key_arn]),
        ])
        Validations.of(policy).acknowledge(Acknowledgment(
            id=iam5_resource_finding(self, objects),
            reason="The endpoint loads whichever registered model directory is rolled out; all live under this prefix."))


def _update_statements(endpoint: SageMakerEndpoint) -> list[iam.PolicyStatement]:
    """PassRole of the endpoint's role (CreateModel), and the grants SageMaker needs on the
    endpoint's key to encrypt the new config's volumes and data (CreateEndpointConfig)."""
    return [
        iam.PolicyStatement(actions=["iam:PassRole"], resources=[endpoint.role.role_arn],
                            conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}),
        iam.PolicyStatement(actions=["kms:CreateGrant", "kms:DescribeKey"], resources=[endpoint.key.key_arn]),
    ]


__all__ = ["MODEL_PACKAGE_VARIABLE", "ModelRollout"]
