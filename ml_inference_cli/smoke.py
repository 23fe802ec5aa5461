"""`ml-inference smoke`: does a running service answer the way its clients need? The delivery
pipeline runs it after every deploy (one step per target) and stops promotion when it fails.

    ml-inference smoke --url http://127.0.0.1:8080
    ml-inference smoke --stack MlInference-Fargate --stage dev
    ml-inference smoke --stack MlInference-SageMaker --stage staging --wait 900

Checks, in order (the first failure stops the run with a one-line reason and exit code 1):
readiness (/health 200; SageMaker: the endpoint is InService), /predict answers a known label with
a confidence in [0, 1], /predict/batch keeps order and size, an empty text answers 4xx with the
JSON error body, and the p95 of 20 sequential /predict requests is under the bound (default 1 s).
A target that cannot be resolved, or a bad flag, exits with 2.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .aws import TargetError, aws_hint, check_url, make_signer, session, stack_outputs
from .endpoints import EMPTY_TEXT, Answer, Endpoint, HttpEndpoint, SageMakerEndpoint, Unreachable

DEFAULT_LABELS = ("NEGATIVE", "POSITIVE")
#: Texts of different lengths and tone: a batch of them must come back in this order.
TEXTS = (
    "A wonderful, heartfelt film: I loved every minute of it.",
    "Dull, far too long and badly acted. I want those two hours back.",
    "It was fine.",
)
#: Statuses a service answers while it is still coming up (load balancer without targets, model loading).
_NOT_YET = (502, 503, 504)


class SmokeFailure(Exception):
    """A check failed: the message is the one-line reason."""


@dataclass(frozen=True)
class SmokeOptions:
    labels: tuple[str, ...] = DEFAULT_LABELS
    p95_bound_s: float = 1.0
    requests: int = 20
    wait_s: float = 0.0
    #: How far a batch answer's confidence may be from the single answer's for the same text
    #: (dynamic batching pads; int8 models quantize per batch).
    tolerance: float = 0.02


def run_checks(endpoint: Endpoint, options: SmokeOptions, report: Callable[[str], None] = print) -> None:
    """Run every check against `endpoint`, reporting one line per passed check; SmokeFailure on the first failure."""
    answer = _wait_until_ready(endpoint, options.wait_s)
    report(f"ok  ready: {_ready_text(answer)} in {_ms(answer.seconds)}")
    singles = [_check_prediction(endpoint.predict(text), options.labels, "/predict") for text in TEXTS]
    report(f"ok  /predict: {', '.join(f'{label} {confidence:.3f}' for label, confidence in singles)}")
    _check_batch(endpoint.predict_batch(TEXTS), singles, options)
    report(f"ok  /predict/batch: {len(TEXTS)} answers in input order")
    rejected = _check_rejected(endpoint.send(dict(EMPTY_TEXT)))
    report(f"ok  bad input: {rejected}")
    p95 = _check_latency(endpoint, options)
    report(f"ok  latency: p95 {_ms(p95)} over {options.requests} sequential requests (bound {_ms(options.p95_bound_s)})")


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def _ready_text(answer: Answer) -> str:
    try:
        status = answer.json().get("EndpointStatus")
    except (ValueError, AttributeError):
        status = None
    return f"endpoint {status}" if status else f"/health HTTP {answer.status}"


def _wait_until_ready(endpoint: Endpoint, wait_s: float) -> Answer:
    deadline = time.monotonic() + wait_s
    delay = 2.0
    while True:
        try:
            answer = endpoint.health()
            if answer.ok:
                return answer
            reason = _not_ready_text(answer)
            if answer.status not in _NOT_YET:
                raise SmokeFailure(f"not ready: {reason}")
        except Unreachable as error:
            reason = str(error)
        if time.monotonic() + delay > deadline:
            waited = f" (still, after waiting {wait_s:g} s)" if wait_s else ""
            raise SmokeFailure(f"not ready: {reason}{waited}")
        time.sleep(delay)
        delay = min(delay * 1.5, 15.0)


def _not_ready_text(answer: Answer) -> str:
    try:
        status = answer.json().get("EndpointStatus")
    except (ValueError, AttributeError):
        status = None
    if status:
        return f"the endpoint is {status}"
    return f"/health answered HTTP {answer.status}{_hint(answer)}: {answer.excerpt()}"


def _hint(answer: Answer) -> str:
    if answer.status == 403:
        return " (an AWS_IAM endpoint: are the requests signed, and may the caller invoke it?)"
    return ""


def _json_object(answer: Answer, what: str) -> dict[str, Any]:
    if not answer.ok:
        got = f"HTTP {answer.status}" if answer.status is not None else "an async failure"
        raise SmokeFailure(f"{what} answered {got}{_hint(answer)}: {answer.excerpt()}")
    try:
        body = answer.json()
    except ValueError:
        raise SmokeFailure(f"{what} answered something that is not JSON: {answer.excerpt()}") from None
    if not isinstance(body, dict):
        raise SmokeFailure(f"{what} answered JSON that is not an object: {answer.excerpt()}")
    return body


def _check_prediction(answer: Answer | dict[str, Any], labels: Sequence[str], what: str) -> tuple[str, float]:
    """(label, confidence) of one prediction; `label` preferred, `sentiment` accepted."""
    body = _json_object(answer, what) if isinstance(answer, Answer) else answer
    label = body.get("label", body.get("sentiment"))
    if not isinstance(label, str):
        raise SmokeFailure(f"{what} answered no label (neither 'label' nor 'sentiment'): {_one_line(body)}")
    if label not in labels:
        raise SmokeFailure(f"{what} answered label {label!r}, not one of the model's labels ({', '.join(labels)})")
    confidence = body.get("confidence")
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0 <= confidence <= 1:
        raise SmokeFailure(f"{what} answered confidence {confidence!r}: it must be a number in [0, 1]")
    return label, float(confidence)


def _one_line(body: Any, limit: int = 160) -> str:
    import json

    text = json.dumps(body)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_batch(answer: Answer, singles: list[tuple[str, float]], options: SmokeOptions) -> None:
    body = _json_object(answer, "/predict/batch")
    predictions = body.get("predictions")
    if not isinstance(predictions, list):
        raise SmokeFailure(f"/predict/batch answered no 'predictions' list: {answer.excerpt()}")
    if len(predictions) != len(singles):
        raise SmokeFailure(f"/predict/batch answered {len(predictions)} predictions for {len(singles)} texts")
    near_tie = 1 / len(options.labels) + options.tolerance
    for index, (prediction, (label, confidence)) in enumerate(zip(predictions, singles)):
        if not isinstance(prediction, dict):
            raise SmokeFailure(f"/predict/batch answer {index} is not an object: {_one_line(prediction)}")
        got_label, got_confidence = _check_prediction(prediction, options.labels, f"/predict/batch answer {index}")
        same = got_label == label and abs(got_confidence - confidence) <= options.tolerance
        flipped_tie = got_label != label and max(got_confidence, confidence) <= near_tie
        if not (same or flipped_tie):
            raise SmokeFailure(
                f"/predict/batch answer {index} ({got_label} {got_confidence:.3f}) is not /predict's answer for "
                f"text {index} ({label} {confidence:.3f}): the batch lost its order or its answers"
            )


def _check_rejected(answer: Answer) -> str:
    what = "an empty text"
    if answer.ok:
        raise SmokeFailure(f"{what} was accepted (HTTP {answer.status}): bad input must answer 4xx")
    if answer.status is not None and not 400 <= answer.status < 500:
        raise SmokeFailure(f"{what} answered HTTP {answer.status}, not 4xx: {answer.excerpt()}")
    try:
        body = answer.json()
    except ValueError:
        body = None
    if not (isinstance(body, dict) and isinstance(body.get("error"), str) and isinstance(body.get("detail"), str)):
        raise SmokeFailure(f"{what} answered without the JSON error body {{\"error\", \"detail\"}}: {answer.excerpt()}")
    status = f"HTTP {answer.status}" if answer.status is not None else "an async failure"
    return f"{what} answered {status} {body['error']!r}"


def _check_latency(endpoint: Endpoint, options: SmokeOptions) -> float:
    seconds = []
    for index in range(options.requests):
        answer = endpoint.predict(TEXTS[index % len(TEXTS)])
        _check_prediction(answer, options.labels, f"/predict (timed request {index + 1})")
        seconds.append(answer.seconds)
    p95 = percentile(seconds, 0.95)
    if p95 > options.p95_bound_s:
        raise SmokeFailure(
            f"p95 latency {_ms(p95)} over {options.requests} sequential requests is above the {_ms(options.p95_bound_s)} bound"
        )
    return p95


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile: the smallest value with at least `fraction` of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


# -- the command ----------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    target = parser.add_argument_group("target (one of)")
    target.add_argument("--url", help="base URL of a running service (local, Fargate, EKS, a Function URL)")
    target.add_argument("--stack", help="a deployed stack (id or CloudFormation name): its Url, or its SageMaker endpoint")
    target.add_argument("--stage", default="dev", help="stage of --stack (default dev)")
    target.add_argument("--region", help="region of --stack (default: your AWS configuration)")
    target.add_argument("--role-arn", help="assume this role first (a stage in another account)")
    target.add_argument("--sigv4", default="auto", choices=("auto", "on", "off"),
                        help="sign HTTP requests with SigV4: auto signs Function URLs and execute-api hosts")
    checks = parser.add_argument_group("checks")
    checks.add_argument("--labels", default=",".join(DEFAULT_LABELS),
                        help=f"the model's labels, comma-separated (default {','.join(DEFAULT_LABELS)})")
    checks.add_argument("--p95-ms", type=float, default=1000, help="bound on the p95 of the timed requests (default 1000)")
    checks.add_argument("--async-p95-ms", type=float, default=15000,
                        help="the same for async SageMaker endpoints, S3 round trip included (default 15000)")
    checks.add_argument("--requests", type=int, default=20, help="timed sequential requests (default 20)")
    checks.add_argument("--timeout", type=float, default=60,
                        help="seconds one request may take (default 60: a serverless endpoint's cold start)")
    checks.add_argument("--async-timeout", type=float, default=900,
                        help="seconds an async answer may take to appear, scale-from-zero included (default 900)")
    checks.add_argument("--wait", type=float, default=0,
                        help="seconds to wait for the service to become ready (default 0: it must be ready now)")


def endpoint_from_args(args: argparse.Namespace, *, boto_session: Any = None) -> Endpoint:
    """The endpoint `args` name: --url as it is, or --stack's outputs (Url, or EndpointName + Mode)."""
    if bool(args.url) == bool(args.stack):
        raise TargetError("give the target: --url URL (a running service) or --stack NAME (a deployed stack)")
    if args.url:
        url = check_url(args.url)
        return HttpEndpoint(url, signer=make_signer(url, args.sigv4), timeout=args.timeout)
    aws = session(region=args.region, role_arn=args.role_arn, boto_session=boto_session)
    name, outputs = stack_outputs(args.stack, args.stage, cloudformation=aws.client("cloudformation"), instead="--url URL")
    if "EndpointName" in outputs:
        return SageMakerEndpoint(
            outputs["EndpointName"], outputs.get("Mode", "real-time"), session=aws,
            async_input_uri=outputs.get("AsyncInputUri"), timeout=args.timeout, async_timeout=args.async_timeout,
        )
    if "Url" in outputs:
        url = check_url(outputs["Url"])
        credentials = aws.get_credentials()
        return HttpEndpoint(url, signer=make_signer(url, args.sigv4, credentials=credentials), timeout=args.timeout)
    have = ", ".join(sorted(outputs)) or "none"
    raise TargetError(f"stack {name} has no Url or EndpointName output (outputs: {have}): "
                      "smoke-test an inference stack (Lambda, Fargate, Eks, SageMaker)")


def options_from_args(args: argparse.Namespace, endpoint: Endpoint) -> SmokeOptions:
    labels = tuple(label.strip() for label in args.labels.split(",") if label.strip())
    if len(labels) < 2:
        raise TargetError("--labels needs the model's labels, two or more, comma-separated")
    if args.requests < 1 or args.timeout <= 0 or args.async_timeout <= 0 or args.wait < 0 or args.p95_ms <= 0 \
            or args.async_p95_ms <= 0:
        raise TargetError("--requests must be 1 or more, --timeout, --async-timeout and the bounds above 0, --wait 0 or more")
    is_async = isinstance(endpoint, SageMakerEndpoint) and endpoint.mode == "async"
    bound_ms = args.async_p95_ms if is_async else args.p95_ms
    return SmokeOptions(labels=labels, p95_bound_s=bound_ms / 1000, requests=args.requests, wait_s=args.wait)


def run(args: argparse.Namespace, *, boto_session: Any = None, out: Any = None, err: Any = None) -> int:
    """The command: 0 when every check passed, 1 on the first failed check, 2 when the target
    cannot be resolved or a flag is wrong. Never a traceback: every failure is one line on stderr."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        endpoint = endpoint_from_args(args, boto_session=boto_session)
        options = options_from_args(args, endpoint)
    except TargetError as error:
        print(f"ml-inference smoke: error: {error}", file=err)
        return 2
    except Exception as error:  # noqa: BLE001 - botocore's own (no credentials, no region): one line too
        print(f"ml-inference smoke: error: {aws_hint(error)}", file=err)
        return 2
    print(f"smoke test of {endpoint.description}", file=out, flush=True)
    try:
        run_checks(endpoint, options, report=lambda line: print(line, file=out, flush=True))
    except (SmokeFailure, Unreachable, TargetError) as error:
        print(f"ml-inference smoke: FAILED: {error}", file=err)
        return 1
    except Exception as error:  # noqa: BLE001 - a smoke test reports, on one line, whatever broke
        print(f"ml-inference smoke: FAILED: {type(error).__name__}: {error}", file=err)
        return 1
    print("smoke test passed", file=out)
    return 0


__all__ = ["DEFAULT_LABELS", "SmokeFailure", "SmokeOptions", "TEXTS", "add_arguments", "endpoint_from_args",
           "percentile", "run", "run_checks"]
