"""Where the load goes and how to sign it: no Locust import here, so tests and tools can use it.

- :func:`resolve_target`: the target from a flag, or from a CloudFormation stack's outputs, read with
  boto3 (``ml_inference_cli.aws``, shared with ``ml-inference smoke``). ``--stack MlInference-Fargate``
  means the stack of that id in ``--stage`` (CloudFormation name ``MlInference-Fargate-<stage>``); a
  full name works as it is. An HTTP stack gives its ``Url`` output; a SageMaker stack its endpoint,
  reached through the SageMaker runtime's HTTPS API (real-time, serverless: SigV4-signed POSTs to
  ``/endpoints/NAME/invocations``; async: InvokeEndpointAsync with S3 input and output).
- :class:`SigV4Signer`: signs requests for an ``AWS_IAM`` Lambda Function URL (service ``lambda``), an
  IAM-authorized HTTP API (``execute-api``) or the SageMaker runtime (``sagemaker``), with botocore's SigV4Auth.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Optional

from ml_inference_cli.aws import (
    STAGES,
    SigV4Signer,
    TargetError,
    check_url,
    make_signer,
    sagemaker_runtime_url,
    client,
    signing_scope,
    stack_names,
    stack_outputs,
)

DEFAULT_OUTPUT_KEY = "Url"
_RUNTIME_ENDPOINT = re.compile(r"^https://runtime\.sagemaker\.([a-z0-9-]+)\.amazonaws\.com/endpoints/([^/]+)$")


@dataclass(frozen=True)
class Target:
    """Where the load goes: `host` (Locust's base URL) and, for a SageMaker async endpoint, the
    s3:// prefix its inputs go to."""

    host: str
    async_input_uri: Optional[str] = None


def resolve_target(*, url: Optional[str] = None, stack: Optional[str] = None, stage: str = "dev",
                   output_key: str = DEFAULT_OUTPUT_KEY, cloudformation: Any = None,
                   region: Optional[str] = None) -> Target:
    """The target: `url` if given, else the `output_key` output of `stack`, or its SageMaker endpoint.

    `cloudformation` is a boto3 CloudFormation client (made from the default session when None).
    """
    if url:
        return Target(check_url(url))
    if not stack:
        raise TargetError("give the target: --host URL, or --stack NAME (a deployed MlInference-* stack)")
    if cloudformation is None:
        cloudformation = client("cloudformation", region=region, region_option="--aws-region (make loadtest LOADTEST_ARGS='--aws-region REGION')")
    name, outputs = stack_outputs(stack, stage, cloudformation=cloudformation, instead="--host URL")
    if output_key == DEFAULT_OUTPUT_KEY and output_key not in outputs and "EndpointName" in outputs:
        endpoint_region = region or _client_region(cloudformation)
        host = sagemaker_runtime_url(outputs["EndpointName"], endpoint_region)
        if outputs.get("Mode") == "async":
            if "AsyncInputUri" not in outputs:
                raise TargetError(f"stack {name} is an async endpoint without an AsyncInputUri output: update the stack")
            return Target(host, async_input_uri=outputs["AsyncInputUri"])
        return Target(host)
    if output_key not in outputs:
        have = ", ".join(sorted(outputs)) or "none"
        raise TargetError(f"stack {name} has no output {output_key!r} (outputs: {have}); "
                          "deploy it with its endpoint, or pass --stack-output KEY")
    return Target(check_url(outputs[output_key]))


def resolve_url(**kwargs: Any) -> str:
    """The base URL of :func:`resolve_target` (for HTTP targets and SageMaker's runtime API)."""
    return resolve_target(**kwargs).host


def sagemaker_endpoint(host: str) -> Optional[tuple[str, str]]:
    """(endpoint name, region) when `host` is a SageMaker runtime endpoint address, else None."""
    match = _RUNTIME_ENDPOINT.match(host)
    return (match.group(2), match.group(1)) if match else None


def _client_region(client: Any) -> str:
    region = getattr(getattr(client, "meta", None), "region_name", None)
    if not region:
        raise TargetError("cannot tell the endpoint's region: pass --aws-region")
    return region


__all__ = ["DEFAULT_OUTPUT_KEY", "STAGES", "SigV4Signer", "Target", "TargetError", "make_signer", "resolve_target",
           "resolve_url", "sagemaker_endpoint", "signing_scope", "stack_names"]
