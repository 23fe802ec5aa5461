"""MlInference-SageMaker: the inference server as a SageMaker endpoint, plus batch transform."""

from __future__ import annotations

from typing import Any, Optional

from aws_cdk import CfnOutput, Duration, Stack
from constructs import Construct

from ..config import StageConfig
from ..constructs.model_image import ModelImage
from ..constructs.network import SharedNetwork
from ..constructs.sagemaker import EndpointCapacity, EndpointMode, SageMakerEndpoint
from .monitoring import service_monitoring


class SageMakerStack(Stack):
    """A ModelImage, a SageMakerEndpoint in the stage's mode, and a batch transform state machine.

    Serverless endpoints run outside any VPC; real-time and async ones in the stage network's
    private subnets.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        network: Optional[SharedNetwork],
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        mode = EndpointMode(config.sagemaker_mode)
        capacity = _capacity(config, mode)
        #: The inference image.
        self.image = ModelImage(self, "Image", model_directory=config.model_directory)
        #: The endpoint.
        self.inference = SageMakerEndpoint(
            self,
            "Endpoint",
            image=self.image,
            capacity=capacity,
            vpc=network.vpc if capacity.supports_vpc and network is not None else None,
            removal_policy=config.removal_policy,
            log_retention=config.log_retention,
            model_latency_alarm_threshold=Duration.millis(config.alarm_p99_latency_ms),
            invocation_5xx_alarm_threshold=config.alarm_http_5xx_count,
            monitoring=service_monitoring(config),
        )
        #: Batch transform over the data bucket's batch-input/ prefix.
        self.batch = self.inference.add_batch_transform()

        name = self.inference.endpoint_name
        CfnOutput(self, "EndpointName", value=name)
        CfnOutput(self, "Mode", value=mode.value)
        if mode is EndpointMode.ASYNC:
            bucket = self.inference.data_bucket
            assert bucket is not None
            CfnOutput(
                self,
                "AsyncInputUri",
                value=f"s3://{bucket.bucket_name}/async-inputs/",
                description="Where async inputs go (ml-inference smoke and make loadtest upload theirs here)",
            )
            CfnOutput(
                self,
                "InvokeCommand",
                description="Upload an input, queue it, then read the answer from OutputLocation",
                value=f"aws s3 cp input.json s3://{bucket.bucket_name}/async-inputs/input.json && "
                f"aws sagemaker-runtime invoke-endpoint-async --endpoint-name {name} "
                f"--content-type application/json --input-location s3://{bucket.bucket_name}/async-inputs/input.json",
            )
        else:
            CfnOutput(
                self,
                "InvokeCommand",
                value=f"aws sagemaker-runtime invoke-endpoint --endpoint-name {name} "
                "--content-type application/json --cli-binary-format raw-in-base64-out "
                "--body '{\"text\": \"Loved it.\"}' /dev/stdout",
            )
        CfnOutput(self, "BatchInputUri", value=self.batch.input_uri, description="One text per line, then start BatchStateMachine")
        CfnOutput(self, "BatchStateMachineArn", value=self.batch.state_machine.state_machine_arn)


def _capacity(config: StageConfig, mode: EndpointMode) -> EndpointCapacity:
    """The endpoint capacity of the stage's SageMaker mode."""
    if mode is EndpointMode.REAL_TIME:
        return EndpointCapacity.real_time(
            instance_type=config.sagemaker_instance_type,
            initial_instance_count=config.sagemaker_min_instances,
            min_instances=config.sagemaker_min_instances,
            max_instances=config.sagemaker_max_instances,
            data_capture_percent=config.sagemaker_data_capture_percent,
        )
    if mode is EndpointMode.ASYNC:
        return EndpointCapacity.asynchronous(
            instance_type=config.sagemaker_instance_type,
            min_instances=config.sagemaker_min_instances,
            max_instances=config.sagemaker_max_instances,
            data_capture_percent=config.sagemaker_data_capture_percent,
        )
    return EndpointCapacity.serverless(
        memory_mib=config.sagemaker_serverless_memory_mib,
        max_concurrency=config.sagemaker_serverless_max_concurrency,
    )
