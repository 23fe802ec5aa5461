"""What an internet-facing load balancer lets through to the service: shared by the Fargate ALB,
the EKS Ingress and their web ACL. Plain data and functions, no constructs."""

from __future__ import annotations

import re
from collections.abc import Mapping

#: Paths the service answers that only the VPC or the cluster may reach: Prometheus metrics and
#: the API docs. Internet-facing load balancers answer 404 for them (listener rule or Ingress
#: action, and a WAF rule that sees through percent-encoding); health checks, in-VPC scraping
#: and local runs keep them.
PRIVATE_PATHS = ("/metrics", "/docs", "/redoc", "/openapi.json")
#: The body the load balancer answers for a private path: the service's own 404, so the path
#: looks like any unknown one.
NOT_FOUND_BODY = '{"error": "not_found", "detail": "no such endpoint"}'
#: The service setting (inference/app/settings.py) that turns off /docs, /redoc and
#: /openapi.json; set on containers behind an internet-facing load balancer.
DOCS_DISABLED = {"DOCS_ENABLED": "false"}
#: The service's default MAX_BODY_BYTES (inference/app/settings.py).
DEFAULT_MAX_BODY_BYTES = 1_048_576
#: TLS 1.3 and 1.2 only, forward-secret ciphers: ELB's recommended policy.
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"


def private_path_patterns() -> list[str]:
    """ALB listener rule path patterns for PRIVATE_PATHS: each path and anything under or after it."""
    return [f"{path}*" for path in PRIVATE_PATHS]


def private_path_regex() -> str:
    """A regex for URI paths (after one URL decoding, as uvicorn decodes them) that start with a
    private path: `/metrics`, `/metrics/`, `/docs/oauth2-redirect`, ..."""
    names = "|".join(re.escape(path.lstrip("/")) for path in PRIVATE_PATHS)
    return f"^/({names})"


def max_body_bytes(environment: Mapping[str, str]) -> int:
    """The MAX_BODY_BYTES the container runs with: its environment's, else the service default."""
    value = environment.get("MAX_BODY_BYTES", str(DEFAULT_MAX_BODY_BYTES))
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"environment MAX_BODY_BYTES must be a positive whole number of bytes, got {value!r}")
    return int(value)


def greater_than_regex(limit: int) -> str:
    """A regex that matches a decimal number (leading zeros allowed) greater than `limit`, and
    nothing else: what a Content-Length header above the service's body limit looks like."""
    if limit < 0:
        raise ValueError(f"limit must not be negative, got {limit}")
    digits = str(limit)
    # Longer numbers without leading zeros, then same-length ones that beat `limit` at a digit.
    alternatives = [f"[1-9][0-9]{{{len(digits)},}}"]
    for index, digit in enumerate(digits):
        if digit == "9":
            continue
        higher = str(int(digit) + 1) if digit == "8" else f"[{int(digit) + 1}-9]"
        rest = len(digits) - index - 1
        alternatives.append(digits[:index] + higher + (f"[0-9]{{{rest}}}" if rest else ""))
    return f"^0*({'|'.join(alternatives)})$"


__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "DOCS_DISABLED",
    "NOT_FOUND_BODY",
    "PRIVATE_PATHS",
    "TLS_POLICY",
    "greater_than_regex",
    "max_body_bytes",
    "private_path_patterns",
    "private_path_regex",
]
