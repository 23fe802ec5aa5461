"""Small builders for the construct tests: one stack, one construct, a Template."""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
from aws_cdk.assertions import Template

from tests.conftest import cdk_json_context

#: The service alarms every inference construct adds by default (ServiceMonitoring()).
SERVICE_ALARM_KEYS = {
    "service_p99_latency",
    "service_error_rate",
    "drift_label_share_NEGATIVE",
    "drift_label_share_POSITIVE",
    "drift_mean_confidence",
}


def new_stack(*, env: cdk.Environment | None = None) -> tuple[cdk.App, cdk.Stack]:
    app = cdk.App(context=cdk_json_context())
    return app, cdk.Stack(app, "Test", env=env)


def template_of(stack: cdk.Stack) -> Template:
    return Template.from_stack(stack)


def docker_images(app: cdk.App, stack: cdk.Stack) -> list[dict]:
    """The stack's Docker image assets as the CLI will build them: source and image tag."""
    assembly = app.synth()
    manifest = Path(assembly.directory) / f"{stack.artifact_id}.assets.json"
    images = json.loads(manifest.read_text()).get("dockerImages", {})
    return [
        {**image["source"], "tag": next(iter(image["destinations"].values()))["imageTag"]}
        for image in images.values()
    ]
