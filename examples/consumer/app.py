#!/usr/bin/env python3
"""A CDK app of your own that uses ml-inference-cdk from its wheel.

    pip install -r requirements.txt     # the wheel, aws-cdk-lib, constructs, cdk-nag
    npx cdk synth                       # or: cdk synth, with the CDK CLI 2.x installed

Three stacks: `Minimal` is the two-line use; `TeamDev` and `TeamProd` subclass every construct
with a team's house rules, once without an environment and once pinned to a region. cdk-nag's
AwsSolutions checks run on the whole app: synth fails on any unacknowledged finding.
"""

from __future__ import annotations

import os

import aws_cdk as cdk
from aws_cdk import CfnOutput, Duration, Stack, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import Construct

from ml_inference_cdk import (
    EksInference,
    EndpointCapacity,
    FargateInference,
    LambdaInference,
    ModelImage,
    SageMakerEndpoint,
    SharedNetwork,
)


class MinimalStack(Stack):
    """The minimal use: the default model (SST-2 DistilBERT) as a Lambda function behind an
    IAM-authenticated Function URL."""

    def __init__(self, scope: Construct, construct_id: str, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        image = ModelImage(self, "Image")
        inference = LambdaInference(self, "Classifier", image=image)
        CfnOutput(self, "Url", value=inference.url or "", description="POST /predict here, signed with SigV4")


# -- a team's house rules: one subclass per construct -------------------------------------------


class TeamLambda(LambdaInference):
    def __init__(self, scope: Construct, construct_id: str, **props) -> None:
        super().__init__(scope, construct_id, memory_mib=4096, warmup_interval=Duration.minutes(5), **props)
        self.function.add_environment("TEAM", "search")


class TeamFargate(FargateInference):
    def __init__(self, scope: Construct, construct_id: str, **props) -> None:
        super().__init__(scope, construct_id, min_tasks=2, **props)
        self.container.add_environment("TEAM", "search")


class TeamEks(EksInference):
    def __init__(self, scope: Construct, construct_id: str, **props) -> None:
        super().__init__(scope, construct_id, namespace="search", **props)


class TeamEndpoint(SageMakerEndpoint):
    def __init__(self, scope: Construct, construct_id: str, **props) -> None:
        super().__init__(scope, construct_id, capacity=EndpointCapacity.serverless(memory_mib=4096), **props)
        #: Batch transform over the endpoint's data bucket.
        self.batch = self.add_batch_transform()


class TeamStack(Stack):
    """Every target on one network: Fargate and EKS need a VPC (the SharedNetwork's); Lambda and
    serverless SageMaker run outside it. The constructs expose what callers need: add outputs."""

    def __init__(self, scope: Construct, construct_id: str, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        image = ModelImage(self, "Image")
        network = SharedNetwork(self, "Network")
        function = TeamLambda(self, "Classifier", image=image)
        service = TeamFargate(self, "Service", image=image, vpc=network.vpc)
        cluster = TeamEks(self, "Cluster", image=image, vpc=network.vpc)
        endpoint = TeamEndpoint(self, "Endpoint", image=image)
        CfnOutput(self, "LambdaUrl", value=function.url or "")
        CfnOutput(self, "FargateUrl", value=service.url)
        CfnOutput(self, "EksIngressCommand", value=cluster.ingress_address_command())
        CfnOutput(self, "SageMakerEndpointName", value=endpoint.endpoint_name)
        CfnOutput(self, "BatchInputUri", value=endpoint.batch.input_uri)


app = cdk.App()
MinimalStack(app, "Minimal")
TeamStack(app, "TeamDev")
TeamStack(app, "TeamProd", env=cdk.Environment(region=os.environ.get("TEAM_PROD_REGION", "eu-west-1")))
Validations.of(app).add_plugins(AwsSolutionsChecks(app))
app.synth()
