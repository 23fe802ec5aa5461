"""What the Fargate ALB and the EKS Ingress share: whether a load balancer may face the
internet, and the security group of one in front of the service."""

from __future__ import annotations

from typing import Optional

from aws_cdk import Acknowledgment, Annotations, Validations
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from ._checks import skip_checkov
from .load_balancer_auth import LoadBalancerAuth


def resolve_exposure(
    scope: Construct, *, internal: Optional[bool], certificate: Optional[acm.ICertificate], auth: object
) -> bool:
    """Whether the load balancer is internal. Without `internal`: internal unless there is a
    certificate (synth warns); an internet-facing one needs a certificate, `auth` needs HTTPS."""
    if auth is not None and not isinstance(auth, LoadBalancerAuth):
        raise ValueError(f"auth must come from LoadBalancerAuth.cognito() or .oidc(), got {auth!r}")
    if auth is not None and certificate is None:
        raise ValueError("auth signs users in over HTTPS only: pass certificate= (an ACM certificate) too")
    if internal is None:
        internal = certificate is None
        if internal:
            Annotations.of(scope).add_warning_v2(
                "ml-inference:internalLoadBalancer",
                "no certificate: the load balancer is internal (reachable from the VPC only); pass certificate= "
                "for HTTPS on the internet",
            )
    if not internal and certificate is None:
        raise ValueError(
            "an internet-facing load balancer needs HTTPS: pass certificate= (an ACM certificate), or internal=True"
        )
    return internal


def load_balancer_security_group(
    scope: Construct, vpc: ec2.IVpc, *, internal: bool, https: bool
) -> ec2.SecurityGroup:
    """The listeners' ports from the VPC (internal), or 443 and the redirecting 80 from anywhere."""
    security_group = ec2.SecurityGroup(
        scope,
        "LoadBalancerSecurityGroup",
        vpc=vpc,
        description="Listeners of the inference load balancer",
        allow_all_outbound=False,
    )
    port = 443 if https else 80
    if internal:
        security_group.add_ingress_rule(ec2.Peer.ipv4(vpc.vpc_cidr_block), ec2.Port.tcp(port), "From the VPC")
        Validations.of(security_group).acknowledge(
            Acknowledgment(
                id="AwsSolutions-EC23",
                reason="Ingress comes only from the VPC's own CIDR block, an attribute the rule cannot "
                "resolve at synth; nothing outside the VPC is allowed.",
            )
        )
        return security_group
    security_group.add_ingress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(port), "From the internet")
    security_group.add_ingress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(80), "Redirected to HTTPS")
    skip_checkov(
        security_group,
        CKV_AWS_260="Port 80 only redirects to HTTPS: an internet-facing load balancer always has a certificate.",
    )
    Validations.of(security_group).acknowledge(
        Acknowledgment(
            id="AwsSolutions-EC23",
            reason="An internet-facing load balancer answers the internet on its listener ports "
            "by design; the tasks behind it accept traffic only from this security group.",
        )
    )
    return security_group


__all__ = ["load_balancer_security_group", "resolve_exposure"]
