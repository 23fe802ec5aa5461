"""Run the Locust load test headless and print what matters: `make loadtest` calls this.

    python loadtest/run.py --host URL [--users 10] [--spawn-rate 2] [--duration 5m] [--out DIR] [-- LOCUST ARGS]
    python loadtest/run.py --stack MlInference-Fargate --stage prod --duration 10m

Writes DIR/stats_*.csv (Locust's CSV stats) and DIR/report.html, then prints p50/p95/p99, throughput
and failures per endpoint and overall; the files of an earlier run in DIR are removed first. The
exit code is Locust's: 0, or 1 when any request failed (2, with one line, for bad arguments or a
target that cannot be resolved: no such stack, no AWS region or credentials).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess  # nosec B404  # runs Locust, with arguments this script builds
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
LOCUSTFILE = HERE / "locustfile.py"
#: What a run writes into --out (Locust's CSV prefix "stats", its HTML report, the locustfile's summary).
RESULT_GLOBS = ("stats_*.csv", "stats_summary.json", "report.html")


def parse_args(argv=None) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(prog="loadtest/run.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default=os.environ.get("URL") or "", help="base URL of the service (or --stack)")
    parser.add_argument("--stack", default="", help="CloudFormation stack id or name whose Url output is the target")
    parser.add_argument("--stage", default="dev", help="stage of --stack (default dev)")
    parser.add_argument("--users", "-u", type=int, default=10, help="concurrent simulated clients (10)")
    parser.add_argument("--spawn-rate", "-r", type=float, default=2, help="clients started per second (2)")
    parser.add_argument("--duration", "-t", default="5m", help="run time: 30s, 5m, 1h (5m)")
    parser.add_argument("--out", default=str(HERE / "results"), help="folder for the CSV stats and the HTML report")
    parser.add_argument("--max-requests", type=int, default=0, help="stop after this many requests (0: no cap)")
    args, extra = parser.parse_known_args(argv)
    if extra and extra[0] == "--":
        extra = extra[1:]
    if not args.host and not args.stack:
        parser.error("give the target: --host URL (make loadtest URL=...) or --stack NAME (make loadtest STACK=...)")
    if args.users < 1 or args.spawn_rate <= 0:
        parser.error("--users must be 1 or more and --spawn-rate above 0")
    return args, extra


def locust_command(args: argparse.Namespace, extra: list[str], target=None) -> list[str]:
    """The Locust command line; with `target` (a resolved --stack), its address instead of the stack."""
    prefix = str(Path(args.out) / "stats")
    command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--only-summary",
               "-u", str(args.users), "-r", str(args.spawn_rate), "-t", args.duration,
               "--csv", prefix, "--html", str(Path(args.out) / "report.html"), "--stop-timeout", "10"]
    if target is not None:
        command += ["--host", target.host]
        if target.async_input_uri:
            command += ["--async-input-uri", target.async_input_uri]
    elif args.host:
        command += ["--host", args.host]
    elif args.stack:
        command += ["--stack", args.stack, "--stage", args.stage]
    if args.max_requests:
        command += ["--max-requests", str(args.max_requests)]
    return command + extra


def summarize(out: Path) -> dict:
    """The final numbers per endpoint and for "all": the locustfile's stats_summary.json, else Locust's CSV."""
    summary = out / "stats_summary.json"
    if summary.is_file():
        return json.loads(summary.read_text())["endpoints"]
    with (out / "stats_stats.csv").open(newline="") as handle:
        return {("all" if row["Name"] == "Aggregated" else row["Name"]): {
            "requests": int(row["Request Count"]), "failures": int(row["Failure Count"]),
            "req_per_s": float(row["Requests/s"]), "p50_ms": row["50%"], "p95_ms": row["95%"], "p99_ms": row["99%"]}
            for row in csv.DictReader(handle)}


def format_summary(endpoints: dict) -> str:
    lines = [f"{'endpoint':<18}{'requests':>9}{'failures':>9}{'req/s':>8}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}"]
    for name, row in endpoints.items():
        lines.append(f"{name:<18}{row['requests']:>9}{row['failures']:>9}{float(row['req_per_s']):>8.1f}"
                     + "".join(f"{'-' if row[k] is None else row[k]:>8}" for k in ("p50_ms", "p95_ms", "p99_ms")))
    return "\n".join(lines)


def check_target(args: argparse.Namespace, extra: list[str]):
    """--stack resolved before Locust starts (a loadtest.target.Target, or None with --host), so a
    missing stack, region or credentials is one line, and Locust reads no stack again."""
    if args.host or not args.stack:
        return None
    sys.path.insert(0, str(HERE.parent))
    from loadtest.target import resolve_target

    known = argparse.ArgumentParser(add_help=False)
    known.add_argument("--aws-region", default=os.environ.get("LOADTEST_AWS_REGION", ""))
    known.add_argument("--stack-output", default=os.environ.get("LOADTEST_STACK_OUTPUT", "Url"))
    options, _ = known.parse_known_args(extra)
    return resolve_target(stack=args.stack, stage=args.stage, output_key=options.stack_output,
                          region=options.aws_region or None)


def clear_results(out: Path) -> None:
    """Remove an earlier run's files, so nothing printed or left in `out` can be mistaken for this run's."""
    for pattern in RESULT_GLOBS:
        for path in out.glob(pattern):
            path.unlink()


def main(argv=None) -> int:
    args, extra = parse_args(argv)
    from ml_inference_cli.aws import TargetError

    Path(args.out).mkdir(parents=True, exist_ok=True)
    clear_results(Path(args.out))
    try:
        target = check_target(args, extra)
    except TargetError as error:
        print(f"loadtest: error: {error}", file=sys.stderr)
        return 2
    command = locust_command(args, extra, target)
    print("running:", " ".join(command[2:]), flush=True)
    code = subprocess.call(command)  # nosec B603  # an argument list, no shell: Locust and its options
    out = Path(args.out)
    if code == 2:
        print("locust stopped before the test ran (exit code 2): its log above says why", file=sys.stderr)
        return code
    if not (out / "stats_stats.csv").is_file():
        print(f"no stats written (locust exited with {code})", file=sys.stderr)
        return code or 2
    print()
    print(format_summary(summarize(out)))
    print(f"\nCSV: {Path(args.out) / 'stats_stats.csv'} (and _history, _failures, _exceptions); HTML: {Path(args.out) / 'report.html'}")
    return code


if __name__ == "__main__":
    sys.exit(main())
