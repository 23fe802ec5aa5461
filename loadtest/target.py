"""Where the load goes and how to sign it: no Locust import here, so tests and tools can use it.

- :func:`resolve_url`: the URL from a flag, or from a CloudFormation stack's output (``Url`` by default),
  read with boto3. ``--stack MlInference-Fargate`` means the stack of that id in ``--stage``
  (CloudFormation name ``MlInference-Fargate-<stage>``); a full name works as it is.
- :class:`SigV4Signer`: signs requests for an ``AWS_IAM`` Lambda Function URL (service ``lambda``) or an
  IAM-authorized HTTP API (``execute-api``) with botocore's SigV4Auth.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Optional
from urllib.parse import urlsplit

STAGES = ("dev", "staging", "prod")
DEFAULT_OUTPUT_KEY = "Url"
_FUNCTION_URL = re.compile(r"^[a-z0-9]+\.lambda-url\.([a-z0-9-]+)\.on\.aws$")
_EXECUTE_API = re.compile(r"^[a-z0-9]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com$")


class TargetError(ValueError):
    """The target cannot be resolved or signed for; the message says what to do."""


def stack_names(stack: str, stage: str) -> list[str]:
    """CloudFormation names to try for `stack`: a stack id gets the stage appended first."""
    if any(stack.endswith(f"-{s}") for s in STAGES):
        return [stack]
    return [f"{stack}-{stage}", stack]


def resolve_url(*, url: Optional[str] = None, stack: Optional[str] = None, stage: str = "dev",
                output_key: str = DEFAULT_OUTPUT_KEY, cloudformation: Any = None, region: Optional[str] = None) -> str:
    """The base URL to load: `url` if given, else the `output_key` output of `stack`.

    `cloudformation` is a boto3 CloudFormation client (made from the default session when None).
    """
    if url:
        return _check_url(url)
    if not stack:
        raise TargetError("give the target: --host URL, or --stack NAME (a deployed MlInference-* stack)")
    if cloudformation is None:
        import boto3

        cloudformation = boto3.client("cloudformation", region_name=region)
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
            raise TargetError(f"cannot read stack {name}: {error}") from None
        outputs = {o["OutputKey"]: o["OutputValue"] for o in answer["Stacks"][0].get("Outputs", [])}
        if output_key not in outputs:
            have = ", ".join(sorted(outputs)) or "none"
            raise TargetError(f"stack {name} has no output {output_key!r} (outputs: {have}); "
                              "deploy it with its endpoint, or pass --stack-output KEY")
        return _check_url(outputs[output_key])
    raise TargetError(f"no stack named {' or '.join(tried)}: deploy it (make deploy STACK={stack} STAGE={stage}) "
                      "or pass --host URL")


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise TargetError(f"not an http(s) URL: {url!r}")
    return url.rstrip("/")


def signing_scope(url: str) -> Optional[tuple[str, str]]:
    """(service, region) for a host that takes SigV4 (Function URL, execute-api), else None."""
    host = urlsplit(url).hostname or ""
    match = _FUNCTION_URL.match(host)
    if match:
        return "lambda", match.group(1)
    match = _EXECUTE_API.match(host)
    if match:
        return "execute-api", match.group(1)
    return None


class SigV4Signer:
    """Adds SigV4 headers to a request; credentials come from the default boto3 chain (or are given)."""

    def __init__(self, service: str, region: str, credentials: Any = None) -> None:
        if credentials is None:
            import boto3

            credentials = boto3.Session().get_credentials()
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
