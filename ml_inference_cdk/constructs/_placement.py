"""Where compute goes: one shape for every construct, `vpc` plus `vpc_subnets`."""

from __future__ import annotations

import dataclasses
from typing import Optional

from aws_cdk import aws_ec2 as ec2


@dataclasses.dataclass(frozen=True)
class Placement:
    """A VPC and the subnets in it that a construct's compute runs in."""

    vpc: ec2.IVpc
    subnets: ec2.SubnetSelection


def private_subnets(vpc: ec2.IVpc) -> ec2.SubnetSelection:
    """The VPC's private subnets: with egress where it has them, else its isolated ones."""
    if not vpc.private_subnets and vpc.isolated_subnets:
        return ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
    return ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)


def resolve_placement(
    *,
    vpc: Optional[ec2.IVpc],
    vpc_subnets: Optional[ec2.SubnetSelection],
    existing_vpc: Optional[ec2.IVpc] = None,
    existing: str = "",
    required: bool,
    what: str,
) -> Optional[Placement]:
    """Resolve and check a construct's placement props.

    :param vpc: the `vpc` prop.
    :param vpc_subnets: the `vpc_subnets` prop; default: the VPC's private subnets.
    :param existing_vpc: the VPC of an existing resource given instead (a cluster), if any.
    :param existing: the name of that prop (`cluster`), for messages; empty when there is none.
    :param required: whether the construct must run in a VPC.
    :param what: what runs there ("the tasks"), for messages.
    :returns: the placement, or None when not in a VPC.
    """
    if existing and existing_vpc is not None and vpc is not None:
        raise ValueError(f"give vpc or {existing}, not both: {what} run in the {existing}'s VPC")
    vpc = vpc or existing_vpc
    if vpc is None:
        if vpc_subnets is not None:
            raise ValueError("vpc_subnets needs vpc: pass the VPC the subnets belong to")
        if required:
            alternative = f" or {existing}=" if existing else ""
            raise ValueError(
                f"pass vpc= (for example SharedNetwork(...).vpc){alternative}: {what} need a VPC to run in"
            )
        return None
    return Placement(vpc=vpc, subnets=vpc_subnets or private_subnets(vpc))
