"""Locust load test for any deployed stack (or the local server): 70% /predict, 30% /predict/batch.

    locust -f loadtest/locustfile.py --headless -u 10 -r 2 -t 5m --host https://my-alb.example.com
    locust -f loadtest/locustfile.py --headless -u 10 -r 2 -t 5m --stack MlInference-Fargate --stage prod
    locust -f loadtest/locustfile.py --headless -u 5 -r 1 -t 2m --stack MlInference-Lambda   # SigV4-signed
    locust -f loadtest/locustfile.py --headless -u 5 -r 1 -t 2m --stack MlInference-SageMaker --stage prod

The target comes from --host, or from a CloudFormation stack's output (--stack, --stage,
--stack-output; read with boto3 and the default credentials). Requests to an AWS_IAM Function URL,
an execute-api endpoint or the SageMaker runtime are SigV4-signed (--sigv4 auto, the default; on;
off). A SageMaker stack is loaded through the runtime's API: real-time and serverless endpoints
with signed POSTs to /endpoints/NAME/invocations, async ones with InvokeEndpointAsync (input and
answer in S3; the time counted is the whole round trip). The mix, batch sizes,
think time and a request cap are flags too (each also an environment variable: LOADTEST_*).
`make loadtest` (loadtest/run.py) runs this headless and prints the summary.
"""

from __future__ import annotations

import json
import logging
import random
import sys
import time
from pathlib import Path

import gevent
from locust import HttpUser, events, task
from locust.runners import WorkerRunner

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `locust -f` runs from anywhere

from loadtest.target import (  # noqa: E402
    DEFAULT_OUTPUT_KEY,
    TargetError,
    make_signer,
    resolve_target,
    sagemaker_endpoint,
)
from loadtest.texts import review  # noqa: E402
from ml_inference_cli.aws import session  # noqa: E402
from ml_inference_cli.endpoints import SageMakerEndpoint, Unreachable  # noqa: E402

log = logging.getLogger("loadtest")


@events.init_command_line_parser.add_listener
def _options(parser) -> None:
    group = parser.add_argument_group("inference load test")
    group.add_argument("--stack", default="", env_var="LOADTEST_STACK",
                       help="CloudFormation stack (id or full name) whose output holds the URL, instead of --host")
    group.add_argument("--stage", default="dev", env_var="LOADTEST_STAGE", help="stage of --stack given as an id (default dev)")
    group.add_argument("--stack-output", default=DEFAULT_OUTPUT_KEY, env_var="LOADTEST_STACK_OUTPUT",
                       help="the stack output that holds the URL (default Url)")
    group.add_argument("--aws-region", default="", env_var="LOADTEST_AWS_REGION", help="region of --stack (default: your AWS config)")
    group.add_argument("--async-input-uri", default="", env_var="LOADTEST_ASYNC_INPUT_URI",
                       help="s3:// prefix for an async SageMaker endpoint's inputs (read from --stack's AsyncInputUri)")
    group.add_argument("--async-timeout", type=float, default=300, env_var="LOADTEST_ASYNC_TIMEOUT",
                       help="seconds an async answer may take to appear in S3 (300)")
    group.add_argument("--sigv4", default="auto", choices=["auto", "on", "off"], env_var="LOADTEST_SIGV4",
                       help="sign requests with SigV4: auto signs Function URLs, execute-api hosts and the SageMaker runtime")
    group.add_argument("--single-weight", type=float, default=70, env_var="LOADTEST_SINGLE_WEIGHT", help="share of /predict (70)")
    group.add_argument("--batch-weight", type=float, default=30, env_var="LOADTEST_BATCH_WEIGHT", help="share of /predict/batch (30)")
    group.add_argument("--batch-min", type=int, default=5, env_var="LOADTEST_BATCH_MIN", help="fewest texts in a batch (5)")
    group.add_argument("--batch-max", type=int, default=10, env_var="LOADTEST_BATCH_MAX", help="most texts in a batch (10)")
    group.add_argument("--think-min", type=float, default=0.5, env_var="LOADTEST_THINK_MIN", help="least wait between requests, s")
    group.add_argument("--think-max", type=float, default=1.5, env_var="LOADTEST_THINK_MAX", help="most wait between requests, s")
    group.add_argument("--max-requests", type=int, default=0, env_var="LOADTEST_MAX_REQUESTS",
                       help="stop after this many requests (0: no cap; -t still applies)")
    group.add_argument("--seed", type=int, default=None, env_var="LOADTEST_SEED", help="seed for the generated texts")


def _check(options) -> None:
    if options.single_weight < 0 or options.batch_weight < 0 or options.single_weight + options.batch_weight <= 0:
        raise TargetError("--single-weight and --batch-weight must be zero or more, and not both zero")
    if not 1 <= options.batch_min <= options.batch_max:
        raise TargetError("--batch-min must be at least 1 and at most --batch-max")
    if not 0 <= options.think_min <= options.think_max:
        raise TargetError("--think-min must be zero or more and at most --think-max")


@events.init.add_listener
def _resolve_target(environment, **_kwargs) -> None:
    options = environment.parsed_options
    if options is None:
        return
    try:
        _check(options)
        if not isinstance(environment.runner, WorkerRunner):
            # Workers get the host from the master.
            target = resolve_target(url=environment.host, stack=options.stack or None, stage=options.stage,
                                    output_key=options.stack_output, region=options.aws_region or None)
            environment.host = target.host
            if target.async_input_uri:
                # Parsed options travel to the workers: they find the S3 prefix here too.
                options.async_input_uri = target.async_input_uri
            log.info("load target: %s", environment.host)
    except TargetError as error:
        log.error("%s", error)
        sys.exit(2)


_sent = 0
_environment = None


@events.init.add_listener
def _keep(environment, **_kwargs) -> None:
    global _environment
    _environment = environment


@events.quit.add_listener
def _write_summary(exit_code: int, **_kwargs) -> None:
    """<csv prefix>_summary.json: the final numbers (Locust's CSV is its last periodic snapshot)."""
    environment = _environment
    options = environment.parsed_options if environment else None
    if environment is None or environment.runner is None or isinstance(environment.runner, WorkerRunner) \
            or not options or not options.csv_prefix:
        return
    stats = environment.runner.stats
    entries = [(name, entry) for (name, _method), entry in sorted(stats.entries.items())] + [("all", stats.total)]
    summary = {
        "exit_code": exit_code,
        "host": environment.host,
        "endpoints": {
            name: {
                "requests": entry.num_requests,
                "failures": entry.num_failures,
                "req_per_s": round(entry.total_rps, 3),
                **{f"p{int(q * 100)}_ms": entry.get_response_time_percentile(q) if entry.num_requests else None
                   for q in (0.5, 0.95, 0.99)},
                "avg_ms": round(entry.avg_response_time, 1),
            }
            for name, entry in entries
        },
    }
    Path(f"{options.csv_prefix}_summary.json").write_text(json.dumps(summary, indent=2) + "\n")


@events.request.add_listener
def _count(**_kwargs) -> None:
    global _sent
    _sent += 1


class InferenceUser(HttpUser):
    """One client: /predict or /predict/batch with generated reviews, a think time between requests."""

    def on_start(self) -> None:
        options = self.environment.parsed_options
        self.options = options
        self.rng = random.Random(None if options is None or options.seed is None else options.seed + id(self))  # nosec B311  # load, not keys
        #: (endpoint name, region) of a SageMaker target: its runtime API takes /invocations only.
        self.sagemaker = sagemaker_endpoint(self.host)
        self.async_endpoint = None
        try:
            if self.sagemaker and options is not None and options.async_input_uri:
                name, region = self.sagemaker
                self.async_endpoint = SageMakerEndpoint(
                    name, "async", session=session(region=region), async_input_uri=options.async_input_uri,
                    timeout=60, async_timeout=options.async_timeout)
            self.signer = make_signer(self.host, options.sigv4 if options else "auto")
        except TargetError as error:
            log.error("%s", error)
            self.environment.runner.quit()
            raise

    def wait_time(self) -> float:
        options = self.options
        return self.rng.uniform(options.think_min, options.think_max) if options else 1.0

    @task
    def predict(self) -> None:
        options = self.options
        cap = options.max_requests if options else 0
        if cap and _sent >= cap:
            # Sent enough: stop the run (the requests in flight still finish and count).
            if self.environment.runner is not None:
                gevent.spawn(self.environment.runner.quit)
            self.stop()
            return
        single, batch = (options.single_weight, options.batch_weight) if options else (70, 30)
        if self.rng.random() * (single + batch) < single:
            self._post("/predict", {"text": review(self.rng)}, lambda body: "label" in body or "sentiment" in body)
        else:
            size = self.rng.randint(options.batch_min, options.batch_max) if options else self.rng.randint(5, 10)
            texts = [review(self.rng) for _ in range(size)]
            self._post("/predict/batch", {"texts": texts},
                       lambda body: len(body.get("predictions", [])) == size)

    def _post(self, path: str, payload: dict, valid) -> None:
        if self.async_endpoint is not None:
            self._post_async(path, payload, valid)
            return
        body = json.dumps(payload).encode()
        headers = {"content-type": "application/json"}
        # SageMaker's runtime serves both shapes on /invocations; the stats keep the service's names.
        url_path = "/invocations" if self.sagemaker else path
        if self.signer is not None:
            headers = self.signer.headers("POST", self.host + url_path, body, headers)
        with self.client.post(url_path, data=body, headers=headers, name=path, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}: {response.text[:200]}")
                return
            try:
                ok = valid(response.json())
            except (ValueError, AttributeError):
                ok = False
            if not ok:
                response.failure(f"unexpected answer: {response.text[:200]}")

    def _post_async(self, path: str, payload: dict, valid) -> None:
        """Upload, InvokeEndpointAsync, wait for the answer in S3: one request in the stats, timed end to end."""
        start = time.perf_counter()
        answer, failure = None, None
        try:
            answer = self.async_endpoint.send(payload)
            if not answer.ok:
                failure = Exception(f"async failure: {answer.excerpt(200)}")
            else:
                try:
                    ok = valid(answer.json())
                except (ValueError, AttributeError):
                    ok = False
                if not ok:
                    failure = Exception(f"unexpected answer: {answer.excerpt(200)}")
        except (Unreachable, TargetError) as error:
            failure = error
        self.environment.events.request.fire(
            request_type="POST", name=path, response_time=(time.perf_counter() - start) * 1000,
            response_length=len(answer.text) if answer else 0, exception=failure, context={})
