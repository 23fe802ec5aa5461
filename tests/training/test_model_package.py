"""ml_inference_cli.model_package (what `make deploy MODEL_PACKAGE=arn` runs) against botocore's
Stubber: the SageMaker and S3 answers are the APIs' own shapes, checked by botocore."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from ml_inference_cli.model_package import FetchError, fetch, main

ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/mlinference-training-dev-pipeline/3"
BUCKET = "training-bucket"
PREFIX = "models/t1234abcd-run-2026-12-02T12/output/model/"
FILES = {"config.json": b'{"id2label": {"0": "NEGATIVE", "1": "POSITIVE"}}', "model.safetensors": b"\x00" * 10,
         "onnx/extra.txt": b"nested"}


def _clients():
    kwargs = {"region_name": "us-east-1", "aws_access_key_id": "test", "aws_secret_access_key": "test"}
    sagemaker, s3 = boto3.client("sagemaker", **kwargs), boto3.client("s3", **kwargs)
    return sagemaker, Stubber(sagemaker), s3, Stubber(s3)


def _package(status="Approved", source=None, url=None):
    container = {"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/serving:tag"}
    if source is not None:
        container["ModelDataSource"] = {"S3DataSource": source}
    if url is not None:
        container["ModelDataUrl"] = url
    return {
        "ModelPackageName": "mlinference-training-dev-pipeline", "ModelPackageArn": ARN,
        "CreationTime": "2026-12-02T12:00:00Z", "ModelPackageStatus": "Completed",
        "ModelPackageStatusDetails": {"ValidationStatuses": [], "ImageScanStatuses": []},
        "ModelApprovalStatus": status, "InferenceSpecification": {"Containers": [container]},
        "CustomerMetadataProperties": {"accuracy": "0.91", "f1": "0.9"},
    }


PREFIX_SOURCE = {"S3Uri": f"s3://{BUCKET}/{PREFIX}", "S3DataType": "S3Prefix", "CompressionType": "None"}


def _body(data: bytes) -> StreamingBody:
    return StreamingBody(io.BytesIO(data), len(data))


def _stub_objects(s3_stub: Stubber, files: dict[str, bytes], extra_keys=()) -> None:
    keys = [PREFIX + name for name in files] + list(extra_keys)
    s3_stub.add_response("list_objects_v2", {"Contents": [{"Key": key, "Size": 1} for key in [PREFIX, *keys]],
                                             "IsTruncated": False},
                         {"Bucket": BUCKET, "Prefix": PREFIX})
    for name, data in files.items():
        s3_stub.add_response("get_object", {"Body": _body(data)}, {"Bucket": BUCKET, "Key": PREFIX + name})


def test_fetches_an_uncompressed_model_directory(tmp_path):
    sagemaker, sm_stub, s3, s3_stub = _clients()
    sm_stub.add_response("describe_model_package", _package(source=PREFIX_SOURCE), {"ModelPackageName": ARN})
    _stub_objects(s3_stub, FILES)
    out = tmp_path / "model"
    with sm_stub, s3_stub:
        package = fetch(ARN, out, sagemaker=sagemaker, s3=s3)
    sm_stub.assert_no_pending_responses()
    s3_stub.assert_no_pending_responses()
    assert package["CustomerMetadataProperties"]["accuracy"] == "0.91"
    assert {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()} == FILES


def test_fetches_a_model_archive(tmp_path):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in FILES.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    sagemaker, sm_stub, s3, s3_stub = _clients()
    sm_stub.add_response("describe_model_package", _package(url=f"s3://{BUCKET}/models/job/output/model.tar.gz"),
                         {"ModelPackageName": ARN})
    s3_stub.add_response("get_object", {"Body": _body(buffer.getvalue())},
                         {"Bucket": BUCKET, "Key": "models/job/output/model.tar.gz"})
    with sm_stub, s3_stub:
        fetch(ARN, tmp_path / "model", sagemaker=sagemaker, s3=s3)
    assert json.loads((tmp_path / "model" / "config.json").read_text())["id2label"]["1"] == "POSITIVE"


def test_refuses_a_package_that_is_not_approved(tmp_path):
    sagemaker, sm_stub, s3, _ = _clients()
    sm_stub.add_response("describe_model_package", _package(status="PendingManualApproval", source=PREFIX_SOURCE))
    with sm_stub, pytest.raises(FetchError, match="is PendingManualApproval, not Approved"):
        fetch(ARN, tmp_path / "model", sagemaker=sagemaker, s3=s3)
    assert not (tmp_path / "model").exists()


def test_refuses_keys_that_leave_the_folder(tmp_path):
    sagemaker, sm_stub, s3, s3_stub = _clients()
    sm_stub.add_response("describe_model_package", _package(source=PREFIX_SOURCE))
    s3_stub.add_response("list_objects_v2", {"Contents": [{"Key": PREFIX + "../../etc/x", "Size": 1}], "IsTruncated": False})
    with sm_stub, s3_stub, pytest.raises(FetchError, match="outside the output folder"):
        fetch(ARN, tmp_path / "model", sagemaker=sagemaker, s3=s3)


def test_refuses_data_without_a_config(tmp_path):
    sagemaker, sm_stub, s3, s3_stub = _clients()
    sm_stub.add_response("describe_model_package", _package(source=PREFIX_SOURCE))
    _stub_objects(s3_stub, {"weights.bin": b"1"})
    with sm_stub, s3_stub, pytest.raises(FetchError, match="holds no config.json"):
        fetch(ARN, tmp_path / "model", sagemaker=sagemaker, s3=s3)


def test_refuses_a_non_empty_output_folder(tmp_path):
    (tmp_path / "old.txt").write_text("x")
    sagemaker, _, s3, _ = _clients()
    with pytest.raises(FetchError, match="is not an empty folder"):
        fetch(ARN, tmp_path, sagemaker=sagemaker, s3=s3)


def test_the_command_line_exits_2_with_one_line(tmp_path, capsys, monkeypatch):
    with pytest.raises(SystemExit) as excinfo:
        main(["not-an-arn", "--out", str(tmp_path / "m")])
    assert excinfo.value.code == 2 and "is not a model package ARN" in capsys.readouterr().err
    sagemaker, sm_stub, s3, _ = _clients()
    sm_stub.add_client_error("describe_model_package", "ValidationException", "Model package does not exist")
    monkeypatch.setattr("ml_inference_cli.model_package._clients", lambda region: (sagemaker, s3))
    with sm_stub:
        assert main([ARN, "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("model_package: error: ") and "does not exist" in err and err.count("\n") == 1
