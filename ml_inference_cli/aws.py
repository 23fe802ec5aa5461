"""AWS access shared by `ml-inference smoke` and the load test (loadtest/): a deployed stack's
outputs, SigV4 signing, and the boto3 session both run as.

boto3 and botocore are imported only when something needs AWS (`make setup` installs them;
elsewhere `pip install boto3`), so the cost model and `smoke --url` on a local service never do.

- :func:`stack_outputs`: the outputs of a CloudFormation stack. ``MlInference-Fargate`` means the
  stack of that id in the stage (CloudFormation name ``MlInference-Fargate-<stage>``); a full
  name works as it is.
- :class:`SigV4Signer`: signs requests for an ``AWS_IAM`` Lambda Function URL (service ``lambda``),
  an IAM-authorized HTTP API (``execute-api``) or the SageMaker runtime (``sagemaker``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any, Optional
from urllib.parse import urlsplit

STAGES = ("dev", "staging", "prod")
_FUNCTION_URL = re.compile(r"^[a-z0-9]+\.lambda-url\.([a-z0-9-]+)\.on\.aws$")
_EXECUTE_API = re.compile(r"^[a-z0-9]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com$")
_SAGEMAKER_RUNTIME = re.compile(r"^runtime\.sagemaker\.([a-z0-9-]+)\.amazonaws\.com$")


class TargetError(ValueError):
    """The target cannot be resolved, reached or signed for; the message says what to do."""


def _boto3() -> Any:
    try:
        import boto3
    except ImportError:
        raise TargetError("this needs boto3 (AWS access): pip install boto3") from None
    return boto3


def session(*, region: Optional[str] = None, role_arn: Optional[str] = None, boto_session: Any = None) -> Any:
    """A boto3 Session in `region` with the default credentials, or with `role_arn` assumed
    (a stage in another account: the pipeline's smoke steps). `boto_session` is the one to start from."""
    boto3 = _boto3()
    # botocore reads AWS_DEFAULT_REGION; CodeBuild and Lambda also set AWS_REGION, which the SDKs of other languages read.
    base = boto_session or boto3.Session(region_name=region or os.environ.get("AWS_REGION") or None)
    if not role_arn:
        return base
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        credentials = base.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="ml-inference-smoke")["Credentials"]
    except (BotoCoreError, ClientError) as error:
        raise TargetError(f"cannot assume {role_arn}: {error}") from None
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=region or base.region_name,
    )


def aws_hint(error: Exception, *, region_option: str = "--region") -> str:
    """One line saying what a botocore error means for the user: no region, no credentials, or the error."""
    name = type(error).__name__
    if name == "NoRegionError":
        return f"no AWS region: pass {region_option}, or set AWS_DEFAULT_REGION (or a profile's region)"
    if name in ("NoCredentialsError", "PartialCredentialsError"):
        return "no AWS credentials: set AWS_PROFILE or the AWS_* variables, or run where a role provides them"
    return f"{name}: {error}"


def client(service: str, *, region: Optional[str] = None, region_option: str = "--region") -> Any:
    """A boto3 client of the default session; no region is a TargetError that says so (naming
    `region_option`, the caller's way to pass one)."""
    from botocore.exceptions import BotoCoreError

    try:
        return session(region=region).client(service)
    except BotoCoreError as error:
        raise TargetError(aws_hint(error, region_option=region_option)) from None


def stack_names(stack: str, stage: str) -> list[str]:
    """CloudFormation names to try for `stack`: a stack id gets the stage appended first."""
    if any(stack.endswith(f"-{s}") for s in STAGES):
        return [stack]
    return [f"{stack}-{stage}", stack]


def stack_outputs(
    stack: str, stage: str = "dev", *, cloudformation: Any = None, region: Optional[str] = None, instead: str = ""
) -> tuple[str, dict[str, str]]:
    """(CloudFormation name, {output key: value}) of the deployed `stack` in `stage`.

    `cloudformation`: a boto3 CloudFormation client (default: one from the default session).
    `instead`: what the error for a missing stack suggests besides deploying it (e.g. "--url URL").
    """
    if cloudformation is None:
        cloudformation = client("cloudformation", region=region)
    from botocore.exceptions import BotoCoreError, ClientError

    tried = []
    for name in stack_names(stack, stage):
        try:
            answer = cloudformation.describe_stacks(StackName=name)
        except ClientError as error:
            if "does not exist" in str(error):
                tried.append(name)
                continue
            raise TargetError(f"cannot read stack {name}: {error}") from None
        except BotoCoreError as error:
            raise TargetError(f"cannot read stack {name}: {aws_hint(error)}") from None
        return name, {o["OutputKey"]: o["OutputValue"] for o in answer["Stacks"][0].get("Outputs", [])}
    alternative = f" or pass {instead}" if instead else ""
    raise TargetError(f"no stack named {' or '.join(tried)}: deploy it (make deploy STACK={stack} STAGE={stage}){alternative}")


def check_url(url: str) -> str:
    """`url` without its trailing slash; TargetError unless it is http(s) with a host."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise TargetError(f"not an http(s) URL: {url!r}")
    return url.rstrip("/")


def signing_scope(url: str) -> Optional[tuple[str, str]]:
    """(service, region) for a host that takes SigV4 (Function URL, execute-api, SageMaker runtime), else None."""
    host = urlsplit(url).hostname or ""
    for pattern, service in ((_FUNCTION_URL, "lambda"), (_EXECUTE_API, "execute-api"), (_SAGEMAKER_RUNTIME, "sagemaker")):
        match = pattern.match(host)
        if match:
            return service, match.group(1)
    return None


def sagemaker_runtime_url(endpoint_name: str, region: str) -> str:
    """The SageMaker runtime's HTTPS address of an endpoint: POST {this}/invocations, SigV4-signed."""
    return f"https://runtime.sagemaker.{region}.amazonaws.com/endpoints/{endpoint_name}"


class SigV4Signer:
    """Adds SigV4 headers to a request; credentials come from the default boto3 chain (or are given)."""

    def __init__(self, service: str, region: str, credentials: Any = None) -> None:
        if credentials is None:
            credentials = _boto3().Session().get_credentials()
        if credentials is None:
            raise TargetError("this endpoint takes SigV4-signed requests (AWS_IAM): configure AWS credentials "
                              "(AWS_PROFILE, environment, or an instance role), or use --sigv4 off for an open endpoint")
        self.service, self.region, self.credentials = service, region, credentials

    def headers(self, method: str, url: str, body: bytes = b"", headers: Optional[Mapping[str, str]] = None) -> dict[str, str]:
        """The headers to send: yours plus Authorization, X-Amz-Date (and X-Amz-Security-Token)."""
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        credentials = self.credentials.get_frozen_credentials() if hasattr(self.credentials, "get_frozen_credentials") \
            else self.credentials
        request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
        SigV4Auth(credentials, self.service, self.region).add_auth(request)
        return dict(request.headers.items())


def make_signer(url: str, mode: str = "auto", credentials: Any = None) -> Optional[SigV4Signer]:
    """A signer when `mode` is on, or auto and the URL is an AWS endpoint that takes SigV4; else None."""
    if mode not in ("auto", "on", "off"):
        raise TargetError(f"--sigv4 takes auto, on or off, not {mode!r}")
    if mode == "off":
        return None
    scope = signing_scope(url)
    if scope is None:
        if mode == "on":
            raise TargetError(f"--sigv4 on: cannot tell the service and region from {url!r}")
        return None
    return SigV4Signer(*scope, credentials=credentials)


__all__ = [
    "STAGES",
    "SigV4Signer",
    "TargetError",
    "aws_hint",
    "check_url",
    "client",
    "make_signer",
    "sagemaker_runtime_url",
    "session",
    "signing_scope",
    "stack_names",
    "stack_outputs",
]
