"""SageMaker building blocks on their own: capacity options, model data, BatchTransform."""

from __future__ import annotations

import gzip
import io
import json
import re
import tarfile
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Match

from ml_inference_cdk import ModelImage
from ml_inference_cdk.constructs.sagemaker import (
    EndpointCapacity,
    ModelData,
    SageMakerEndpoint,
    TrafficShifting,
    write_model_archive,
)
from tests.cdk.sagemaker_support import REGION, role_statements
from tests.cdk.support import new_stack, template_of

# -- model data ------------------------------------------------------------------------------


def test_model_data_from_an_s3_archive():
    app, stack = new_stack(env=REGION)
    bucket = s3.Bucket.from_bucket_name(stack, "Models", "my-models")
    endpoint = SageMakerEndpoint(
        stack, "Endpoint", image=ModelImage(stack, "Image"), model_data=ModelData.from_s3_archive(bucket, "sst2/model.tar.gz")
    )
    template = template_of(stack)
    template.has_resource_properties("AWS::SageMaker::Model", {"PrimaryContainer": Match.object_like({"ModelDataUrl": "s3://my-models/sst2/model.tar.gz"})})
    reads = [s for s in role_statements(template, endpoint.role) if s["Action"] == "s3:GetObject"]
    assert reads[0]["Resource"] == "arn:aws:s3:::my-models/sst2/model.tar.gz"


def test_model_data_from_an_s3_prefix():
    app, stack = new_stack(env=REGION)
    bucket = s3.Bucket.from_bucket_name(stack, "Models", "my-models")
    endpoint = SageMakerEndpoint(
        stack, "Endpoint", image=ModelImage(stack, "Image"), model_data=ModelData.from_s3_prefix(bucket, "sst2/v3/")
    )
    template = template_of(stack)
    template.has_resource_properties(
        "AWS::SageMaker::Model",
        {
            "PrimaryContainer": Match.object_like(
                {
                    "ModelDataUrl": Match.absent(),
                    "ModelDataSource": {"S3DataSource": {"S3Uri": "s3://my-models/sst2/v3/", "S3DataType": "S3Prefix", "CompressionType": "None"}},
                }
            )
        },
    )
    listing = [s for s in role_statements(template, endpoint.role) if s["Action"] == "s3:ListBucket"]
    assert listing[0]["Condition"] == {"StringLike": {"s3:prefix": "sst2/v3/*"}}


def test_model_data_from_a_directory_is_a_reproducible_archive(tmp_path):
    model = tmp_path / "model"
    (model / "sub").mkdir(parents=True)
    (model / "config.json").write_text('{"id2label": {"0": "NEGATIVE", "1": "POSITIVE"}}')
    (model / "model.onnx").write_bytes(b"onnx")
    (model / "sub" / "vocab.txt").write_text("[PAD]\nhello\n")
    first, second = tmp_path / "a.tar.gz", tmp_path / "b.tar.gz"
    write_model_archive(model, first)
    (model / "config.json").touch()  # a new mtime must not change the bytes
    write_model_archive(model, second)
    assert first.read_bytes() == second.read_bytes()
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(first.read_bytes()))) as tar:
        assert sorted(tar.getnames()) == ["config.json", "model.onnx", "sub/vocab.txt"]

    app = cdk.App(outdir=str(tmp_path / "out"))
    stack = cdk.Stack(app, "Test", env=REGION)
    SageMakerEndpoint(stack, "Endpoint", image=ModelImage(stack, "Image"), model_data=ModelData.from_directory(str(model)))
    assembly = app.synth()
    template = template_of(stack)
    (model_resource,) = template.find_resources("AWS::SageMaker::Model").values()
    url = json.dumps(model_resource["Properties"]["PrimaryContainer"]["ModelDataUrl"])
    assert url.startswith('{"Fn::Join"') and "s3://" in url and "cdk-hnb659fds-assets" in url
    assert re.search(r"/[0-9a-f]{64}\.gz", url)
    files = json.loads((Path(assembly.directory) / "Test.assets.json").read_text())["files"]
    staged = [Path(assembly.directory) / f["source"]["path"] for f in files.values() if f["source"]["path"].endswith(".gz")]
    assert len(staged) == 1 and staged[0].read_bytes() == first.read_bytes()


# Each kind checks its options when it is built, before any endpoint exists.
@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"memory_mib": 1500}, "memory_mib must be 1024, 2048"),
        ({"memory_mib": 8192}, "memory_mib must be"),
        ({"max_concurrency": 0}, "max_concurrency must be 1-200"),
        ({"max_concurrency": 201}, "max_concurrency must be 1-200"),
        ({"max_concurrency": 5, "provisioned_concurrency": 6}, "at most max_concurrency"),
    ],
)
def test_fails_when_serverless_options_are_out_of_range(options, message):
    with pytest.raises(ValueError, match=message):
        EndpointCapacity.serverless(**options)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"instance_type": "c6i.large"}, "not a SageMaker instance type"),
        ({"min_instances": 0}, "min_instances must be at least 1"),
        ({"min_instances": 3, "max_instances": 2, "initial_instance_count": 3}, "max_instances"),
        ({"initial_instance_count": 0}, "initial_instance_count must be at least 1"),
        ({"initial_instance_count": 9, "max_instances": 4}, "must lie between"),
        ({"data_capture_percent": 0}, "data_capture_percent must be 1-100"),
        ({"data_capture_percent": 101}, "data_capture_percent must be 1-100"),
        ({"invocations_per_instance": 0}, "invocations_per_instance"),
        ({"cpu_target_percent": 0}, "cpu_target_percent"),
    ],
)
def test_fails_when_real_time_options_are_invalid(options, message):
    with pytest.raises(ValueError, match=message):
        EndpointCapacity.real_time(**options)


@pytest.mark.parametrize(
    ("build_shifting", "message"),
    [
        (lambda: TrafficShifting.canary(percent=0), "1-100 percent"),
        (lambda: TrafficShifting.linear(wait=Duration.hours(2)), "at most one hour"),
    ],
)
def test_fails_when_traffic_shifting_is_invalid(build_shifting, message):
    with pytest.raises(ValueError, match=message):
        build_shifting()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"backlog_per_instance": 0}, "backlog_per_instance"),
        ({"max_concurrent_invocations_per_instance": 0}, "max_concurrent_invocations_per_instance"),
        ({"min_instances": 0, "max_instances": 0}, "max_instances"),
        ({"initial_instance_count": 0}, "initial_instance_count must be at least 1"),
    ],
)
def test_fails_when_async_options_are_invalid(options, message):
    with pytest.raises(ValueError, match=message):
        EndpointCapacity.asynchronous(**options)


def test_fails_when_model_data_is_malformed(tmp_path):
    app, stack = new_stack()
    bucket = s3.Bucket.from_bucket_name(stack, "Models", "my-models")
    with pytest.raises(ValueError, match="must name a model.tar.gz object"):
        ModelData.from_s3_archive(bucket, "models/")
    with pytest.raises(ValueError, match="must end with '/'"):
        ModelData.from_s3_prefix(bucket, "models")
    with pytest.raises(ValueError, match="no config.json"):
        ModelData.from_directory(str(tmp_path))
    (tmp_path / "config.json").write_text("{}")  # a Hugging Face directory, not exported
    with pytest.raises(ValueError, match="no model.onnx.*inference.export"):
        ModelData.from_directory(str(tmp_path))


def test_batch_transform_runs_any_model_with_its_role(tmp_path):
    from aws_cdk import aws_kms as kms

    from ml_inference_cdk import BatchTransform

    app, stack = new_stack(env=REGION)
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    bucket = s3.Bucket(stack, "Data", encryption_key=key, enforce_ssl=True)
    role = iam.Role(stack, "ModelRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    batch = BatchTransform(stack, "Batch", model_name="my-model", role=role, bucket=bucket, encryption_key=key,
                           input_prefix="in/", output_prefix="out/")
    template = template_of(stack)
    statements = role_statements(template, role)
    resources = json.dumps([s["Resource"] for s in statements if s["Action"] in ("s3:GetObject", "s3:PutObject")])
    assert "/in/*" in resources and "/out/*" in resources
    definition = json.dumps(template.find_resources("AWS::StepFunctions::StateMachine"))
    assert "my-model" in definition and "out/" in definition
    assert batch.state_machine is not None and batch.log_group is not None


def test_fails_when_batch_prefixes_are_not_key_prefixes():
    from aws_cdk import aws_kms as kms

    from ml_inference_cdk import BatchTransform

    app, stack = new_stack(env=REGION)
    key = kms.Key(stack, "Key")
    bucket = s3.Bucket(stack, "Data")
    role = iam.Role(stack, "ModelRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    with pytest.raises(ValueError, match="must be a key prefix"):
        BatchTransform(stack, "Batch", model_name="m", role=role, bucket=bucket, encryption_key=key, input_prefix="in")
