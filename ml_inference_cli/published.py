"""The published comparison this project follows, as the model's inputs (see docs/cost-model.md).

At 10,000 requests/day it gives Lambda $28.50, Fargate $75.08 and EKS $194.96 a month and puts the
Lambda/Fargate crossover near 26,000-35,000 requests/day. Its stated assumptions: 0.25 s per request
at 3 GB on Lambda; Fargate 2 vCPU / 4 GB always on with an ALB ($16/month); EKS control plane and
2 t3.large. Its figures come back from the model with these inputs, each explained in the doc:

- Lambda: 1.875 billed seconds per request (7.5 x 0.25 s: 7.5-text batches at 0.25 s a text).
  Taken literally, 0.25 s per request at 3 GB costs $3.86 a month.
- Fargate: the vCPU-hours and the ALB, without the 4 GB's GB-hours ($12.98 more).
- EKS: the control plane and two nodes, no node disks and no load balancer.
- A month of 730 hours (the AWS Pricing Calculator's), so 30.42 days of requests.
"""

from __future__ import annotations

from .model import Options, Workload

PUBLISHED = {"lambda": 28.50, "fargate": 75.08, "eks": 194.96}
PUBLISHED_REQUESTS_PER_DAY = 10_000
PUBLISHED_CROSSOVER = (26_000, 35_000)
TARGETS = ("lambda", "fargate", "eks")

WORKLOAD = Workload(
    requests_per_day=PUBLISHED_REQUESTS_PER_DAY,
    shape="steady",
    items_per_request=7.5,
    # 7.5 texts at 0.25 s each: what Lambda bills.
    seconds_per_request=7.5 * 0.25,
    # The comparison sizes Fargate and EKS as always on: a replica doing 0.25 s of work per request
    # carries 4 requests/s, so one task holds until about 240,000 requests/day.
    replica_rps=4.0,
    # The comparison sets no latency target.
    p99_target_ms=10_000,
)

OPTIONS = Options(
    lambda_memory_mb=3072,
    lambda_seconds_per_request=7.5 * 0.25,
    fargate_vcpu=2,
    fargate_memory_gb=4,
    fargate_min_tasks=1,
    fargate_charge_memory=False,
    alb_monthly_override=16.0,
    eks_node_type="t3.large",
    eks_min_nodes=2,
    eks_node_disk_gb=0.0,
    eks_load_balancer=False,
)
