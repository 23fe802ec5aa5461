#!/usr/bin/env python3
"""The CDK app: `npx cdk synth -c stage=dev|staging|prod [-c account=... -c region=...]`.

The only place that reads context; everything else takes a StageConfig.
"""

import sys

from aws_cdk import App

from ml_inference_cdk.config import get_stage_config
from ml_inference_cdk.stacks import build_app

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
