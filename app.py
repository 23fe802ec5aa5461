#!/usr/bin/env python3
"""The CDK app: `npx cdk synth -c stage=dev|staging|prod [-c account=... -c region=...]`.

The only place that reads context; everything else takes a StageConfig.
"""

import os
import sys

# What `make` exports: jsii prints a multi-line end-of-life banner on Node 20 for every app run.
# Set before aws_cdk starts jsii's Node process, so direct `npx cdk` runs are as quiet.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk import App  # noqa: E402

from ml_inference_cdk.config import get_stage_config  # noqa: E402
from ml_inference_cdk.stacks import build_app  # noqa: E402

app = App()
try:
    config = get_stage_config(app.node.try_get_context("stage")).with_environment(
        account=app.node.try_get_context("account"), region=app.node.try_get_context("region")
    )
except ValueError as error:
    sys.exit(f"error: {error}")
# `make deploy MODEL_PACKAGE=arn` fetches the package's model here and bakes it into the images.
model_directory = app.node.try_get_context("model_directory")
if model_directory:
    config = config.with_model_directory(model_directory)
build_app(app, config)
app.synth()
