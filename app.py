#!/usr/bin/env python3
"""The CDK app: `npx cdk synth -c stage=dev|staging|prod [-c account=... -c region=...]`, or the
delivery pipeline with `-c pipeline=true` (`make synth-pipeline`; `npx cdk deploy MlInference-Pipeline
-c pipeline=true`), which deploys every stage of PipelineConfig itself.

The only place that reads context; everything else takes a StageConfig or the PipelineConfig.
"""

import dataclasses
import os
import sys

# What `make` exports: jsii prints a multi-line end-of-life banner on Node 20 for every app run.
# Set before aws_cdk starts jsii's Node process, so direct `npx cdk` runs are as quiet.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk import App  # noqa: E402

from ml_inference_cdk.config import PIPELINE, get_stage_config  # noqa: E402
from ml_inference_cdk.stacks import build_app  # noqa: E402


def _switch(value: object) -> bool:
    """A context flag: true/1/yes or false/0/no (the CLI passes strings)."""
    text = str(value).strip().lower() if value is not None else "false"
    if text not in ("true", "1", "yes", "false", "0", "no", ""):
        raise ValueError(f"-c pipeline= takes true or false, got {value!r}")
    return text in ("true", "1", "yes")


app = App()
try:
    account, region = app.node.try_get_context("account"), app.node.try_get_context("region")
    if _switch(app.node.try_get_context("pipeline")):
        if app.node.try_get_context("stage"):
            raise ValueError("-c pipeline=true deploys every stage of PipelineConfig (config.py): drop -c stage=")
        from ml_inference_cdk.stacks.pipeline_stack import build_pipeline_app

        pipeline = dataclasses.replace(PIPELINE, account=account or PIPELINE.account, region=region or PIPELINE.region)
        build_pipeline_app(app, pipeline)
    else:
        config = get_stage_config(app.node.try_get_context("stage")).with_environment(account=account, region=region)
        # `make deploy MODEL_PACKAGE=arn` fetches the package's model here and bakes it into the images.
        model_directory = app.node.try_get_context("model_directory")
        if model_directory:
            config = config.with_model_directory(model_directory)
        build_app(app, config)
except ValueError as error:
    sys.exit(f"error: {error}")
app.synth()
