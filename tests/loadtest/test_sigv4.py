"""SigV4 signing for AWS_IAM Function URLs (and IAM-authorized HTTP APIs), with botocore."""

from __future__ import annotations

import pytest
from botocore.credentials import Credentials

from loadtest.target import SigV4Signer, TargetError, make_signer, signing_scope

CREDENTIALS = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session-token")


def test_function_urls_and_execute_api_hosts_are_signed_for_their_service_and_region():
    assert signing_scope("https://abc123.lambda-url.eu-west-1.on.aws") == ("lambda", "eu-west-1")
    assert signing_scope("https://a1b2c3.execute-api.us-east-2.amazonaws.com/prod") == ("execute-api", "us-east-2")
    assert signing_scope("http://my-alb-123.us-east-1.elb.amazonaws.com") is None
    assert signing_scope("http://127.0.0.1:8080") is None


def test_a_signed_request_carries_authorization_date_and_token():
    signer = make_signer("https://abc123.lambda-url.us-east-1.on.aws", credentials=CREDENTIALS)
    headers = signer.headers("POST", "https://abc123.lambda-url.us-east-1.on.aws/predict", b'{"text": "hi"}',
                             {"content-type": "application/json"})
    auth = headers["Authorization"]
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/us-east-1/lambda/aws4_request" in auth
    assert "content-type" in auth and "host" in auth and "x-amz-date" in auth
    assert headers["X-Amz-Security-Token"] == "session-token" and headers["content-type"] == "application/json"


def test_the_signature_covers_the_body():
    signer = SigV4Signer("lambda", "us-east-1", CREDENTIALS)
    url = "https://abc123.lambda-url.us-east-1.on.aws/predict"
    for _ in range(5):  # X-Amz-Date has one-second resolution: compare two signatures of the same second
        one = signer.headers("POST", url, b'{"text": "a"}')
        two = signer.headers("POST", url, b'{"text": "b"}')
        same = signer.headers("POST", url, b'{"text": "a"}')
        if one["X-Amz-Date"] == two["X-Amz-Date"] == same["X-Amz-Date"]:
            break
    assert one["Authorization"] != two["Authorization"]
    assert one["Authorization"] == same["Authorization"]


def test_plain_hosts_are_not_signed_unless_forced_and_off_means_off():
    assert make_signer("http://127.0.0.1:8080", credentials=CREDENTIALS) is None
    assert make_signer("https://abc123.lambda-url.us-east-1.on.aws", "off", credentials=CREDENTIALS) is None
    with pytest.raises(TargetError, match="cannot tell the service and region"):
        make_signer("http://127.0.0.1:8080", "on", credentials=CREDENTIALS)
    with pytest.raises(TargetError, match="--sigv4 takes auto, on or off"):
        make_signer("http://127.0.0.1:8080", "yes")


def test_fails_without_credentials(monkeypatch):
    import boto3

    class NoCredentials:
        def get_credentials(self):
            return None

    monkeypatch.setattr(boto3, "Session", NoCredentials)
    with pytest.raises(TargetError, match="configure AWS credentials"):
        make_signer("https://abc123.lambda-url.us-east-1.on.aws")
