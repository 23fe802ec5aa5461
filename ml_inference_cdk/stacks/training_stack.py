"""MlInference-Training: the stage's TrainingPipeline (training, Model Registry, roll-out on approval)."""

from __future__ import annotations

from typing import Any, Optional

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_events as events
from constructs import Construct

from ..config import StageConfig
from ..constructs.model_image import ModelImage
from ..constructs.sagemaker import SageMakerEndpoint
from ..constructs.training import BaseModel, QualityGate, TrainingCompute, TrainingPipeline


class TrainingStack(Stack):
    """A TrainingPipeline configured from the stage: data in its bucket becomes a gated,
    registered model; approved models roll out to `endpoint` (the stage's SageMaker endpoint)
    and start the stage's delivery pipeline, when it names one."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        endpoint: Optional[SageMakerEndpoint] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        runtime = Duration.minutes(config.training_max_runtime_minutes)
        compute = (
            TrainingCompute.spot(config.training_instance_type, max_runtime=runtime,
                                 max_wait=Duration.minutes(config.training_max_wait_minutes))
            if config.training_spot
            else TrainingCompute.on_demand(config.training_instance_type, max_runtime=runtime)
        )
        pipeline = (
            codepipeline.Pipeline.from_pipeline_arn(
                self, "DeliveryPipeline",
                self.format_arn(service="codepipeline", resource=config.training_delivery_pipeline, region=config.region))
            if config.training_delivery_pipeline
            else None
        )
        #: The training pipeline.
        self.training = TrainingPipeline(
            self,
            "Pipeline",
            compute=compute,
            gate=QualityGate(min_accuracy=config.training_min_accuracy, min_f1=config.training_min_f1),
            hyperparameters=config.training_hyperparameters,
            base_model=BaseModel.from_hub(config.training_base_model, config.training_base_model_revision),
            schedule=events.Schedule.expression(config.training_schedule) if config.training_schedule else None,
            start_on_new_data=config.training_on_new_data,
            debounce=Duration.minutes(config.training_debounce_minutes),
            auto_approve=config.training_auto_approve,
            serving_image=ModelImage(self, "ServingImage", model_directory=config.model_directory),
            endpoint=endpoint,
            delivery_pipeline=pipeline,
            log_retention=config.log_retention,
            removal_policy=config.removal_policy,
        )
        bucket = self.training.bucket.bucket_name
        CfnOutput(self, "DataBucket", value=bucket, description="Upload train/ and eval/ files (text,label) here")
        CfnOutput(self, "UploadCommand", value=f"aws s3 cp reviews.csv s3://{bucket}/train/reviews.csv",
                  description="A new object under train/ starts a run")
        CfnOutput(self, "ModelPackageGroupName", value=self.training.model_package_group_name)
        CfnOutput(self, "TrainingStateMachineArn", value=self.training.state_machine.state_machine_arn)
        if self.training.rollout is not None:
            CfnOutput(self, "RolloutStateMachineArn", value=self.training.rollout.state_machine.state_machine_arn,
                      description='Start with {"ModelPackageArn": "..."} to roll out (or back to) a package')
