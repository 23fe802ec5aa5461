"""Calling a running inference service the way its clients do: over HTTP (local, Fargate, EKS, a
SigV4-signed Lambda Function URL), or through the SageMaker runtime (InvokeEndpoint; async:
InvokeEndpointAsync with the input and the answer in S3).

Every call returns an :class:`Answer` (what came back, and how long it took) or raises
:class:`Unreachable` (no answer at all: a timeout, a refused connection) with a one-line reason.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional, Protocol
from urllib.parse import urlsplit

from .aws import SigV4Signer, TargetError, sagemaker_runtime_url

SAGEMAKER_MODES = ("real-time", "serverless", "async")
#: The text the checks send when they need an input the service must refuse.
EMPTY_TEXT: dict[str, Any] = {"text": ""}


class Unreachable(Exception):
    """No answer: the message says what happened (timeout, connection refused, unknown host)."""


@dataclass(frozen=True)
class Answer:
    """What the service answered. `status` is the HTTP status (the container's, through SageMaker);
    None for an async request that SageMaker wrote to its failure location (it reports no status)."""

    status: Optional[int]
    text: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def json(self) -> Any:
        """The body as JSON; ValueError if it is not."""
        return json.loads(self.text)

    def excerpt(self, limit: int = 160) -> str:
        """The body on one line, cut at `limit` characters."""
        flat = " ".join(self.text.split())
        return flat if len(flat) <= limit else flat[: limit - 3] + "..."


class Endpoint(Protocol):
    """What the smoke test calls: readiness, one text, a batch, and any JSON body."""

    description: str

    def health(self) -> Answer: ...

    def predict(self, text: str) -> Answer: ...

    def predict_batch(self, texts: Sequence[str]) -> Answer: ...

    def send(self, payload: dict[str, Any]) -> Answer: ...


class HttpEndpoint:
    """The service's own HTTP API at `url`: GET /health, POST /predict and /predict/batch.

    `signer` adds SigV4 headers (an AWS_IAM Function URL); `timeout` is per request, in seconds.
    """

    def __init__(self, url: str, *, signer: Optional[SigV4Signer] = None, timeout: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self.signer = signer
        self.timeout = timeout
        self.description = self.url + (" (SigV4-signed)" if signer else "")

    def health(self) -> Answer:
        return self._request("GET", "/health")

    def predict(self, text: str) -> Answer:
        return self.send({"text": text})

    def predict_batch(self, texts: Sequence[str]) -> Answer:
        return self._request("POST", "/predict/batch", {"texts": list(texts)})

    def send(self, payload: dict[str, Any]) -> Answer:
        """POST `payload` to /predict."""
        return self._request("POST", "/predict", payload)

    def _request(self, method: str, path: str, payload: Optional[dict[str, Any]] = None) -> Answer:
        url = self.url + path
        body = json.dumps(payload).encode() if payload is not None else b""
        headers = {"content-type": "application/json", "accept": "application/json"} if payload is not None else {}
        if self.signer is not None:
            headers = self.signer.headers(method, url, body, headers)
        request = urllib.request.Request(url, data=body if payload is not None else None, headers=headers, method=method)
        start = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return Answer(response.status, _read(response), time.perf_counter() - start)
        except urllib.error.HTTPError as error:
            return Answer(error.code, _read(error), time.perf_counter() - start)
        except (TimeoutError, socket.timeout):
            raise Unreachable(f"{method} {path}: no answer within {self.timeout:g} s") from None
        except urllib.error.URLError as error:
            reason = error.reason
            if isinstance(reason, (TimeoutError, socket.timeout)):
                raise Unreachable(f"{method} {path}: no answer within {self.timeout:g} s") from None
            raise Unreachable(f"{method} {path}: cannot connect to {urlsplit(url).netloc} ({reason})") from None
        except (ConnectionError, OSError) as error:
            raise Unreachable(f"{method} {path}: the connection failed ({error})") from None


def _read(response: Any) -> str:
    try:
        return response.read().decode("utf-8", errors="replace")
    except (OSError, TimeoutError):
        return ""


class SageMakerEndpoint:
    """A SageMaker endpoint through the runtime API, as SageMaker's clients call it.

    Real-time and serverless: InvokeEndpoint with the JSON body. Async: the body goes to
    `async_input_uri` (an s3:// prefix), InvokeEndpointAsync queues it, and the answer is read from
    the output location (or the failure location) within `async_timeout` seconds. Readiness is
    DescribeEndpoint's status (SageMaker itself pings the container's /ping).
    """

    def __init__(
        self,
        name: str,
        mode: str = "real-time",
        *,
        session: Any = None,
        runtime: Any = None,
        sagemaker: Any = None,
        s3: Any = None,
        async_input_uri: Optional[str] = None,
        timeout: float = 60.0,
        async_timeout: float = 900.0,
        poll_seconds: float = 0.5,
    ) -> None:
        if mode not in SAGEMAKER_MODES:
            raise TargetError(f"SageMaker mode {mode!r} is not one of {', '.join(SAGEMAKER_MODES)}")
        if mode == "async" and not (async_input_uri or "").startswith("s3://"):
            raise TargetError("an async endpoint needs the s3:// prefix its inputs go to (the stack's AsyncInputUri output)")
        self.name, self.mode = name, mode
        self.timeout, self.async_timeout, self.poll_seconds = timeout, async_timeout, poll_seconds
        self.async_input_uri = async_input_uri
        if session is None and (runtime is None or sagemaker is None or (mode == "async" and s3 is None)):
            from .aws import session as new_session

            session = new_session()
        if runtime is None:
            from botocore.config import Config

            config = Config(read_timeout=timeout, connect_timeout=min(timeout, 10), retries={"max_attempts": 1})
            runtime = session.client("sagemaker-runtime", config=config)
        self.runtime = runtime
        self.sagemaker = sagemaker or session.client("sagemaker")
        self.s3 = s3 or (session.client("s3") if mode == "async" else None)
        region = getattr(getattr(self.runtime, "meta", None), "region_name", None) or "?"
        self.description = f"SageMaker endpoint {name} ({mode}, {sagemaker_runtime_url(name, region)})"

    def health(self) -> Answer:
        from botocore.exceptions import BotoCoreError, ClientError

        start = time.perf_counter()
        try:
            status = self.sagemaker.describe_endpoint(EndpointName=self.name)["EndpointStatus"]
        except ClientError as error:
            raise TargetError(f"cannot describe endpoint {self.name}: {error}") from None
        except BotoCoreError as error:
            raise Unreachable(f"DescribeEndpoint {self.name}: {error}") from None
        # "Updating" and "SystemUpdating" still serve: the old variant answers until the new one is in.
        if status in ("InService", "Updating", "SystemUpdating"):
            code = 200
        else:  # still coming up (503: wait for it), or never will (Failed, OutOfService, ...: 500)
            code = 503 if status in ("Creating", "RollingBack") else 500
        return Answer(code, json.dumps({"EndpointStatus": status}), time.perf_counter() - start)

    def predict(self, text: str) -> Answer:
        return self.send({"text": text})

    def predict_batch(self, texts: Sequence[str]) -> Answer:
        return self.send({"texts": list(texts)})

    def send(self, payload: dict[str, Any]) -> Answer:
        body = json.dumps(payload).encode()
        return self._invoke_async(body) if self.mode == "async" else self._invoke(body)

    def _invoke(self, body: bytes) -> Answer:
        from botocore.exceptions import BotoCoreError, ClientError, ReadTimeoutError

        start = time.perf_counter()
        try:
            response = self.runtime.invoke_endpoint(
                EndpointName=self.name, ContentType="application/json", Accept="application/json", Body=body
            )
            return Answer(200, response["Body"].read().decode("utf-8", errors="replace"), time.perf_counter() - start)
        except ClientError as error:
            return _model_error(error, f"InvokeEndpoint {self.name}", time.perf_counter() - start)
        except ReadTimeoutError:
            raise Unreachable(f"InvokeEndpoint {self.name}: no answer within {self.timeout:g} s") from None
        except BotoCoreError as error:
            raise Unreachable(f"InvokeEndpoint {self.name}: {error}") from None

    def _invoke_async(self, body: bytes) -> Answer:
        from botocore.exceptions import BotoCoreError, ClientError

        assert self.s3 is not None and self.async_input_uri is not None
        bucket, prefix = _split_s3(self.async_input_uri)
        key = f"{prefix.rstrip('/')}/smoke-{uuid.uuid4().hex}.json".lstrip("/")
        start = time.perf_counter()
        try:
            self.s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
            queued = self.runtime.invoke_endpoint_async(
                EndpointName=self.name, ContentType="application/json", Accept="application/json",
                InputLocation=f"s3://{bucket}/{key}",
            )
        except ClientError as error:
            return _model_error(error, f"InvokeEndpointAsync {self.name}", time.perf_counter() - start)
        except BotoCoreError as error:
            raise Unreachable(f"InvokeEndpointAsync {self.name}: {error}") from None
        return self._await_answer(queued["OutputLocation"], queued.get("FailureLocation"), start)

    def _await_answer(self, output: str, failure: Optional[str], start: float) -> Answer:
        from botocore.exceptions import BotoCoreError, ClientError

        deadline = start + self.async_timeout
        delay = self.poll_seconds
        while True:
            for location, status in ((output, 200), (failure, None)):
                if not location:
                    continue
                bucket, key = _split_s3(location)
                try:
                    text = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8", errors="replace")
                    return Answer(status, text, time.perf_counter() - start)
                except ClientError as error:
                    if error.response.get("Error", {}).get("Code") not in ("NoSuchKey", "404"):
                        raise TargetError(f"cannot read {location}: {error}") from None
                except BotoCoreError as error:
                    raise Unreachable(f"reading {location}: {error}") from None
            if time.perf_counter() + delay > deadline:
                raise Unreachable(
                    f"InvokeEndpointAsync {self.name}: no answer in {output} within {self.async_timeout:g} s"
                )
            time.sleep(delay)
            delay = min(delay * 1.5, 5.0)


def _model_error(error: Any, call: str, seconds: float) -> Answer:
    """The container's own answer inside a runtime ModelError; any other error (throttling, a
    missing endpoint, access denied) is no answer from the model at all."""
    response = error.response
    if "OriginalStatusCode" in response:
        return Answer(int(response["OriginalStatusCode"]), response.get("OriginalMessage", ""), seconds)
    details = response.get("Error", {})
    raise Unreachable(f"{call}: {details.get('Code', 'error')}: {details.get('Message', error)}")


def _split_s3(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise TargetError(f"not an s3:// location: {uri!r}")
    bucket, _, key = uri[len("s3://"):].partition("/")
    return bucket, key


__all__ = ["Answer", "EMPTY_TEXT", "Endpoint", "HttpEndpoint", "SAGEMAKER_MODES", "SageMakerEndpoint", "Unreachable"]
