"""What faces the internet: HTTPS only, WAF in front, private paths closed, optional sign-in
(the Fargate ALB and the EKS Ingress), and the stage settings behind them."""

from __future__ import annotations

import json
import re

import aws_cdk as cdk
import pytest
from aws_cdk import Duration, SecretValue
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cognito as cognito
from aws_cdk.assertions import Match

from ml_inference_cdk import EksInference, FargateInference, LoadBalancerAuth, ModelImage, SharedNetwork
from ml_inference_cdk.config import StageConfig
from ml_inference_cdk.constructs._exposure import PRIVATE_PATHS, greater_than_regex, private_path_regex
from tests.cdk.eks_support import by_kind, manifests_of, validate
from tests.cdk.support import new_stack, template_of

REGION = cdk.Environment(region="us-east-1")
CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-1234-5678-9abc-0123456789ab"
WARNING = "ml-inference:internalLoadBalancer"


def fargate(**props):
    app, stack = new_stack(env=REGION)
    if props.pop("with_certificate", False):
        props["certificate"] = acm.Certificate.from_certificate_arn(stack, "Cert", CERTIFICATE)
    auth = props.pop("auth_for", None)
    if auth is not None:
        props["auth"] = auth(stack)
    construct = FargateInference(
        stack, "Service", image=ModelImage(stack, "Image"), vpc=SharedNetwork(stack, "Network").vpc, **props
    )
    return stack, construct


@pytest.fixture(scope="module")
def public():
    stack, construct = fargate(with_certificate=True, environment={"MAX_BODY_BYTES": "2000000"})
    return template_of(stack), construct


@pytest.fixture(scope="module")
def internal():
    stack, construct = fargate()
    return template_of(stack), construct, stack


def _rules(template):
    [acl] = template.find_resources("AWS::WAFv2::WebACL").values()
    return {rule["Name"]: rule for rule in acl["Properties"]["Rules"]}, acl["Properties"]


def _environment(template):
    [definition] = template.find_resources("AWS::ECS::TaskDefinition").values()
    [container] = definition["Properties"]["ContainerDefinitions"]
    return {item["Name"]: item["Value"] for item in container["Environment"]}


def test_internal_without_a_certificate_and_synth_says_so(internal):
    template, construct, stack = internal
    assert construct.internal and construct.web_acl is None and construct.web_acl_log_group is None
    template.has_resource_properties("AWS::ElasticLoadBalancingV2::LoadBalancer", {"Scheme": "internal"})
    template.resource_count_is("AWS::WAFv2::WebACL", 0)
    template.resource_count_is("AWS::ElasticLoadBalancingV2::ListenerRule", 0)  # inside the VPC everything answers
    warnings = [
        entry for entry in cdk.assertions.Annotations.from_stack(stack).find_warning("*", Match.any_value())
        if WARNING in json.dumps(entry.entry.data)
    ]
    assert len(warnings) == 1 and warnings[0].id == "/Test/Service"
    assert "DOCS_ENABLED" not in _environment(template)


def test_internet_facing_only_on_https(public):
    template, construct = public
    assert not construct.internal and construct.url.startswith("https://")
    template.has_resource_properties("AWS::ElasticLoadBalancingV2::LoadBalancer", {"Scheme": "internet-facing"})
    listeners = template.find_resources("AWS::ElasticLoadBalancingV2::Listener")
    by_port = {listener["Properties"]["Port"]: listener["Properties"] for listener in listeners.values()}
    assert set(by_port) == {80, 443}
    assert by_port[443]["Protocol"] == "HTTPS" and by_port[443]["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    # Port 80 forwards nothing: it redirects to HTTPS.
    assert by_port[80]["DefaultActions"] == [
        {"Type": "redirect", "RedirectConfig": {"Port": "443", "Protocol": "HTTPS", "StatusCode": "HTTP_301"}}
    ]
    [forward] = by_port[443]["DefaultActions"]
    assert forward["Type"] == "forward" and forward["TargetGroupArn"]["Ref"].startswith("ServiceLoadBalancerHttpsInferenceGroup")


def test_private_paths_answer_404_on_the_internet(public):
    template, _ = public
    [rule] = template.find_resources("AWS::ElasticLoadBalancingV2::ListenerRule").values()
    properties = rule["Properties"]
    assert properties["Priority"] == 1
    assert properties["Conditions"] == [
        {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/metrics*", "/docs*", "/redoc*", "/openapi.json*"]}}
    ]
    [action] = properties["Actions"]
    assert action["Type"] == "fixed-response" and action["FixedResponseConfig"]["StatusCode"] == "404"
    assert json.loads(action["FixedResponseConfig"]["MessageBody"])["error"] == "not_found"
    # The docs are off in the service too; /health stays the target group's check.
    assert _environment(template)["DOCS_ENABLED"] == "false"
    template.has_resource_properties("AWS::ElasticLoadBalancingV2::TargetGroup", {"HealthCheckPath": "/health"})


def test_web_acl_guards_the_load_balancer(public):
    template, construct = public
    template.has_resource_properties(
        "AWS::WAFv2::WebACLAssociation",
        {"ResourceArn": {"Ref": Match.string_like_regexp("ServiceLoadBalancer")}, "WebACLArn": {"Fn::GetAtt": [Match.string_like_regexp("Firewall"), "Arn"]}},
    )
    rules, acl = _rules(template)
    assert acl["Scope"] == "REGIONAL" and acl["DefaultAction"] == {"Allow": {}}
    assert list(rules) == [
        "RateLimitPerClient", "PrivatePaths", "BodyTooLarge", "AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet",
    ]
    assert [rule["Priority"] for rule in rules.values()] == sorted(rule["Priority"] for rule in rules.values())
    rate = rules["RateLimitPerClient"]
    assert rate["Statement"]["RateBasedStatement"] == {"AggregateKeyType": "IP", "Limit": 2000, "EvaluationWindowSec": 300}
    assert rate["Action"]["Block"]["CustomResponse"]["ResponseCode"] == 429
    common = rules["AWSManagedRulesCommonRuleSet"]["Statement"]["ManagedRuleGroupStatement"]
    # The service takes bodies up to MAX_BODY_BYTES; the 8 KB rule only counts.
    assert common["RuleActionOverrides"] == [{"Name": "SizeRestrictions_BODY", "ActionToUse": {"Count": {}}}]
    assert "RuleActionOverrides" not in rules["AWSManagedRulesKnownBadInputsRuleSet"]["Statement"]["ManagedRuleGroupStatement"]
    assert construct.web_acl is not None and construct.web_acl_log_group is not None


def test_web_acl_closes_private_paths_through_url_encoding(public):
    template, _ = public
    statement = _rules(template)[0]["PrivatePaths"]["Statement"]["RegexMatchStatement"]
    assert statement["FieldToMatch"] == {"UriPath": {}}
    assert statement["TextTransformations"] == [{"Priority": 0, "Type": "URL_DECODE"}]
    pattern = re.compile(statement["RegexString"])
    from urllib.parse import unquote

    for path in ("/metrics", "/metrics/", "/%6detrics", "/docs/oauth2-redirect", "/openapi.json", "/redoc"):
        assert pattern.search(unquote(path)), path
    for path in ("/predict", "/predict/batch", "/health", "/invocations", "/ping", "/"):
        assert not pattern.search(unquote(path)), path


def test_web_acl_body_rule_follows_max_body_bytes(public):
    template, _ = public
    rule = _rules(template)[0]["BodyTooLarge"]
    statement = rule["Statement"]["RegexMatchStatement"]
    assert statement["FieldToMatch"] == {"SingleHeader": {"Name": "content-length"}}
    pattern = re.compile(statement["RegexString"])  # the environment's MAX_BODY_BYTES: 2,000,000
    assert pattern.match("2000001") and pattern.match("0099999999") and not pattern.match("2000000")
    assert rule["Action"]["Block"]["CustomResponse"]["ResponseCode"] == 413


@pytest.mark.parametrize("limit", [0, 7, 9, 10, 99, 1_048_576, 999_999, 2_000_000])
def test_greater_than_regex_matches_exactly_the_larger_numbers(limit):
    import random

    pattern = re.compile(greater_than_regex(limit))
    numbers = list(range(0, 2100)) + [limit - 1, limit, limit + 1, 10 * limit + 7] + random.Random(limit).sample(range(10**10), 3000)
    for number in (n for n in numbers if n >= 0):
        for text in (str(number), f"000{number}"):
            assert bool(pattern.match(text)) == (number > limit), text
    for text in ("", " 1", "1e9", "-5", "12a", "+9"):
        assert not pattern.match(text), text


def test_private_path_regex_names_every_private_path():
    for path in PRIVATE_PATHS:
        assert re.search(private_path_regex(), path)


def test_web_acl_logs_blocked_requests_with_retention(public):
    template, construct = public
    template.has_resource(
        "AWS::Logs::LogGroup",
        {"Properties": Match.object_like({"LogGroupName": Match.string_like_regexp("^aws-waf-logs-Test-"), "RetentionInDays": 14}),
         "DeletionPolicy": "Retain"},
    )
    [logging] = template.find_resources("AWS::WAFv2::LoggingConfiguration").values()
    properties = logging["Properties"]
    [destination] = properties["LogDestinationConfigs"]
    assert not json.dumps(destination).endswith(':*"]]}')  # WAF takes the ARN without ":*"
    assert properties["RedactedFields"] == [{"SingleHeader": {"Name": "authorization"}}, {"SingleHeader": {"Name": "cookie"}}]
    assert properties["LoggingFilter"]["DefaultBehavior"] == "DROP"


def test_tasks_reach_out_to_https_and_dns_only(internal):
    template, construct, _ = internal
    [(group_id, group)] = template.find_resources(
        "AWS::EC2::SecurityGroup", {"Properties": {"GroupDescription": Match.string_like_regexp("^Inference tasks")}}
    ).items()
    egress = group["Properties"]["SecurityGroupEgress"]
    assert {(rule["IpProtocol"], rule["FromPort"], rule["ToPort"]) for rule in egress} == {
        ("tcp", 443, 443), ("udp", 53, 53), ("tcp", 53, 53)
    }
    assert all(rule["CidrIp"] != "0.0.0.0/0" for rule in egress if rule["FromPort"] == 53)  # the VPC's resolver
    [service] = template.find_resources("AWS::ECS::Service").values()
    assert service["Properties"]["NetworkConfiguration"]["AwsvpcConfiguration"]["SecurityGroups"] == [
        {"Fn::GetAtt": [group_id, "GroupId"]}
    ]
    assert construct.task_security_group is not None


def test_deletion_protection():
    stack, _ = fargate(deletion_protection=True)
    template_of(stack).has_resource_properties(
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        {"LoadBalancerAttributes": Match.array_with([{"Key": "deletion_protection.enabled", "Value": "true"}])},
    )


def _cognito(stack):
    pool = cognito.UserPool(stack, "Pool")
    return LoadBalancerAuth.cognito(
        user_pool=pool, user_pool_client=pool.add_client("Alb", generate_secret=True), user_pool_domain=pool.add_domain(
            "Domain", cognito_domain=cognito.CognitoDomainOptions(domain_prefix="inference-test")
        ),
    )


def _oidc(stack):
    return LoadBalancerAuth.oidc(
        issuer="https://idp.example.com",
        authorization_endpoint="https://idp.example.com/authorize",
        token_endpoint="https://idp.example.com/token",
        user_info_endpoint="https://idp.example.com/userinfo",
        client_id="inference",
        client_secret=SecretValue.secrets_manager("inference-oidc"),
    )


@pytest.mark.parametrize(("build", "kind"), [(_cognito, "authenticate-cognito"), (_oidc, "authenticate-oidc")], ids=["cognito", "oidc"])
def test_auth_signs_users_in_before_the_targets(build, kind):
    stack, construct = fargate(with_certificate=True, auth_for=build)
    template = template_of(stack)
    https = template.find_resources("AWS::ElasticLoadBalancingV2::Listener", {"Properties": {"Port": 443}})
    [listener] = https.values()
    actions = listener["Properties"]["DefaultActions"]
    assert [action["Type"] for action in actions] == [kind, "forward"]
    assert [action["Order"] for action in actions] == [1, 2]
    assert construct.auth is not None
    if kind == "authenticate-oidc":
        assert "{{resolve:secretsmanager:inference-oidc" in json.dumps(actions[0])


def test_fails_when_internet_facing_without_https():
    with pytest.raises(ValueError, match="an internet-facing load balancer needs HTTPS: pass certificate="):
        fargate(internal=False)


def test_fails_when_auth_without_https():
    with pytest.raises(ValueError, match="auth signs users in over HTTPS only"):
        fargate(auth_for=_oidc)


def test_fails_when_auth_is_not_built_by_load_balancer_auth():
    with pytest.raises(ValueError, match=r"auth must come from LoadBalancerAuth.cognito\(\) or .oidc\(\)"):
        fargate(with_certificate=True, auth="cognito")


def test_fails_when_auth_lacks_its_provider():
    with pytest.raises(ValueError, match="LoadBalancerAuth.cognito needs its provider: pass user_pool, user_pool_domain"):
        LoadBalancerAuth.cognito(user_pool=None, user_pool_client=object(), user_pool_domain=None)
    with pytest.raises(ValueError, match="LoadBalancerAuth.oidc needs its provider: pass token_endpoint, client_secret"):
        LoadBalancerAuth.oidc(
            issuer="https://idp.example.com", authorization_endpoint="https://idp.example.com/a", token_endpoint="",
            user_info_endpoint="https://idp.example.com/u", client_id="x", client_secret=None,
        )


def test_fails_when_oidc_is_plain_http_or_its_secret_a_string():
    endpoints = dict(issuer="https://idp", authorization_endpoint="https://idp/a", token_endpoint="https://idp/t",
                     user_info_endpoint="https://idp/u", client_id="x")
    with pytest.raises(ValueError, match="token_endpoint must be an https:// URL"):
        LoadBalancerAuth.oidc(**{**endpoints, "token_endpoint": "http://idp/t"}, client_secret=SecretValue.unsafe_plain_text("s"))
    with pytest.raises(ValueError, match="client_secret must be a SecretValue"):
        LoadBalancerAuth.oidc(**endpoints, client_secret="hunter2")


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"rate_limit": 9}, "rate_limit must be between 10 \\(WAF's minimum\\)"),
        ({"rate_limit": 2_000_000_001}, "rate_limit must be between"),
        ({"rate_limit_window": Duration.minutes(3)}, "rate_limit_window must be 1, 2, 5, 10 minutes"),
        ({"environment": {"MAX_BODY_BYTES": "1MiB"}, "with_certificate": True}, "MAX_BODY_BYTES must be a positive whole number"),
    ],
    ids=["below-waf-minimum", "above-waf-maximum", "window", "body-limit"],
)
def test_fails_when_the_web_acl_cannot_be_built(props, message):
    with pytest.raises(ValueError, match=message):
        fargate(**props)


# -- the EKS Ingress ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def eks_public():
    app, stack = new_stack(env=REGION)
    construct = EksInference(
        stack,
        "Service",
        image=ModelImage(stack, "Image"),
        vpc=SharedNetwork(stack, "Network").vpc,
        certificate=acm.Certificate.from_certificate_arn(stack, "Cert", CERTIFICATE),
        rate_limit=500,
    )
    return template_of(stack), construct


def test_ingress_faces_the_internet_on_https_behind_waf(eks_public):
    template, construct = eks_public
    kinds = by_kind(manifests_of(template.to_json()))
    for obj in kinds.values():
        validate(obj, "1.36")
    assert kinds["IngressClassParams"]["spec"]["scheme"] == "internet-facing"
    assert kinds["IngressClassParams"]["spec"]["certificateARNs"] == [CERTIFICATE]
    annotations = kinds["Ingress"]["metadata"]["annotations"]
    assert annotations["alb.ingress.kubernetes.io/ssl-policy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert annotations["alb.ingress.kubernetes.io/ssl-redirect"] == "443"
    assert annotations["alb.ingress.kubernetes.io/wafv2-acl-arn"] == "TOKEN"  # the web ACL's ARN, at deploy time
    assert json.dumps(construct.manifests["Ingress"]).count(construct.web_acl.attr_arn) == 1
    _, acl = _rules(template)
    assert acl["Rules"][0]["Statement"]["RateBasedStatement"]["Limit"] == 500
    template.resource_count_is("AWS::WAFv2::WebACLAssociation", 0)  # Auto Mode associates it


def test_ingress_answers_404_for_private_paths(eks_public):
    template, _ = eks_public
    kinds = by_kind(manifests_of(template.to_json()))
    ingress = kinds["Ingress"]
    action = json.loads(ingress["metadata"]["annotations"]["alb.ingress.kubernetes.io/actions.private-paths"])
    assert action["type"] == "fixed-response" and action["fixedResponseConfig"]["statusCode"] == "404"
    paths = ingress["spec"]["rules"][0]["http"]["paths"]
    blocked = [p["path"] for p in paths if p["backend"]["service"]["name"] == "private-paths"]
    assert blocked == list(PRIVATE_PATHS)
    assert all(p["backend"]["service"]["port"] == {"name": "use-annotation"} for p in paths[:-1])
    assert paths[-1]["path"] == "/" and paths[-1]["backend"]["service"]["name"] == "inference"
    env = {item["name"]: item["value"] for item in kinds["Deployment"]["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["DOCS_ENABLED"] == "false"


def test_fails_when_the_ingress_faces_the_internet_without_https():
    app, stack = new_stack(env=REGION)
    with pytest.raises(ValueError, match="an internet-facing load balancer needs HTTPS"):
        EksInference(stack, "Service", image=ModelImage(stack, "Image"), vpc=SharedNetwork(stack, "Network").vpc, internal=False)


def test_fails_when_the_ingress_rate_limit_is_below_waf_minimum():
    app, stack = new_stack(env=REGION)
    with pytest.raises(ValueError, match="WAF's minimum"):
        EksInference(stack, "Service", image=ModelImage(stack, "Image"), vpc=SharedNetwork(stack, "Network").vpc, rate_limit=1)


# -- the stages -----------------------------------------------------------------------------


def test_default_stages_have_internal_load_balancers_and_synth_says_so(synthesized):
    for stage in ("dev", "staging", "prod"):
        report = json.loads((synthesized(stage).outdir / "validation-report.json").read_text())
        warned = {
            construct["constructPath"]
            for plugin in report["pluginReports"]
            for violation in plugin["violations"]
            if violation["ruleName"] == f"Annotation::{WARNING}"
            for construct in violation["violatingConstructs"]
        }
        assert warned == {"MlInference-Fargate/Service", "MlInference-Eks/Service"}, stage
        scheme = synthesized(stage).template("MlInference-Fargate").find_resources("AWS::ElasticLoadBalancingV2::LoadBalancer")
        assert [lb["Properties"]["Scheme"] for lb in scheme.values()] == ["internal"]


def test_prod_load_balancer_has_deletion_protection(synthesized):
    for stage, protected in (("dev", False), ("staging", False), ("prod", True)):
        [lb] = synthesized(stage).template("MlInference-Fargate").find_resources("AWS::ElasticLoadBalancingV2::LoadBalancer").values()
        attributes = {a["Key"]: a["Value"] for a in lb["Properties"]["LoadBalancerAttributes"]}
        assert (attributes.get("deletion_protection.enabled") == "true") == protected, stage


def test_a_stage_with_a_certificate_and_a_domain(exposed):
    template = exposed.template("MlInference-Fargate")
    template.has_resource_properties(
        "AWS::Route53::RecordSet",
        {"Name": "api.example.com.", "Type": "A", "HostedZoneId": "Z0123456789ABCDEFGHIJ",
         "AliasTarget": Match.object_like({"DNSName": Match.any_value()})},
    )
    template.has_resource_properties("AWS::ElasticLoadBalancingV2::Listener", {"Port": 443, "Certificates": [{"CertificateArn": CERTIFICATE}]})
    assert exposed.templates["MlInference-Fargate"]["Outputs"]["Url"]["Value"] == "https://api.example.com"
    assert _rules(template)[1]["Rules"][0]["Statement"]["RateBasedStatement"]["Limit"] == 300
    ingress = by_kind(manifests_of(exposed.templates["MlInference-Eks"]))["Ingress"]
    assert "alb.ingress.kubernetes.io/wafv2-acl-arn" in ingress["metadata"]["annotations"]
    # Nothing warns: both load balancers face the internet on HTTPS, and the cluster has an admin.
    report = exposed.outdir / "validation-report.json"
    violations = json.loads(report.read_text())["pluginReports"] if report.exists() else []
    assert not [v for plugin in violations for v in plugin["violations"] if "ml-inference:" in v["ruleName"]]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"domain_name": "api.example.com", "hosted_zone_id": "Z1", "hosted_zone_name": "example.com"},
         "domain_name is served over HTTPS: set certificate_arn"),
        ({"certificate_arn": CERTIFICATE, "domain_name": "api.example.com"}, "set hosted_zone_id, hosted_zone_name"),
        ({"certificate_arn": CERTIFICATE, "domain_name": "api.example.org", "hosted_zone_id": "Z1", "hosted_zone_name": "example.com"},
         "is not in the zone"),
        ({"certificate_arn": "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d"}, "in eu-west-1 but the stage deploys to us-east-1"),
        ({"certificate_arn": "arn:aws:iam::123456789012:server-certificate/x"}, "is not an ACM certificate ARN"),
        ({"waf_rate_limit": 9}, "waf_rate_limit must be between 10 \\(WAF's minimum\\)"),
    ],
    ids=["https-without-certificate", "partial-domain", "domain-outside-zone", "certificate-region", "not-acm", "rate-below-waf-minimum"],
)
def test_fails_when_a_stage_is_exposed_wrongly(changes, message):
    with pytest.raises(ValueError, match=message):
        StageConfig(name="test", **changes)


def test_region_override_rechecks_the_certificate():
    config = StageConfig(name="test", certificate_arn=CERTIFICATE)
    with pytest.raises(ValueError, match="a load balancer takes a certificate from its own region"):
        config.with_environment(account=None, region="eu-west-1")
