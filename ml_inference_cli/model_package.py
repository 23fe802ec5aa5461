"""Fetch a Model Registry package's model directory, for images that bake the model in.

    python -m ml_inference_cli.model_package arn:aws:sagemaker:...:model-package/group/3 --out .model-package

`make deploy MODEL_PACKAGE=arn:...` runs this, then `cdk deploy -c model_directory=.model-package`:
the images of the Lambda, Fargate and EKS targets (and the SageMaker endpoint's) then carry the
package's model (`ModelImage(model_directory=...)`). The delivery pipeline's synth step runs the
same command with its MODEL_PACKAGE_ARN variable (docs/model-lifecycle.md).

It reads the package (DescribeModelPackage), refuses one that is not Approved (unless
--allow-unapproved), and downloads its model data: an uncompressed S3 prefix (what the training
pipeline registers) or a model.tar.gz (ModelDataUrl), into an empty folder. Errors: one line on
stderr, exit code 2.
"""

from __future__ import annotations

import argparse
import io
import re
import sys
import tarfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any, Optional

_S3_URI = re.compile(r"^s3://([^/]+)/(.*)$")
_PACKAGE_ARN = re.compile(r"^arn:aws[a-z-]*:sagemaker:([a-z0-9-]+):\d{12}:model-package/[^/]+/\d+$")
_CHUNK = 1 << 20


class FetchError(Exception):
    """What went wrong, in one line that says what to do."""


def split_s3_uri(uri: str) -> tuple[str, str]:
    match = _S3_URI.match(uri)
    if not match:
        raise FetchError(f"{uri!r} is not an s3://bucket/key URI")
    return match.group(1), match.group(2)


def model_data(package: dict[str, Any]) -> tuple[str, bool]:
    """(S3 URI, is_archive) of a DescribeModelPackage answer's first container."""
    containers = package.get("InferenceSpecification", {}).get("Containers") or []
    if not containers:
        raise FetchError(f"model package {package.get('ModelPackageArn')} has no inference containers")
    container = containers[0]
    source = container.get("ModelDataSource", {}).get("S3DataSource")
    if source:
        compressed = source.get("CompressionType", "None") == "Gzip"
        if source.get("S3DataType") == "S3Prefix" and not compressed:
            return source["S3Uri"], False
        if source.get("S3DataType") == "S3Object" and compressed:
            return source["S3Uri"], True
        raise FetchError(f"model data {source.get('S3Uri')} ({source.get('S3DataType')}, {source.get('CompressionType')}) "
                         "is neither an uncompressed prefix nor a model.tar.gz")
    if container.get("ModelDataUrl"):
        return container["ModelDataUrl"], True
    raise FetchError(f"model package {package.get('ModelPackageArn')} has no model data (the model is in its image)")


def _safe_relative(key: str, prefix: str) -> Optional[PurePosixPath]:
    """The object's path under `prefix`, or None for folder markers; FetchError for keys that would
    leave the output folder."""
    relative = key[len(prefix):].lstrip("/")
    if not relative or relative.endswith("/"):
        return None
    path = PurePosixPath(relative)
    if path.is_absolute() or any(part in ("", ".", "..") for part in path.parts):
        raise FetchError(f"object key {key!r} would be written outside the output folder")
    return path


def download_prefix(s3: Any, bucket: str, prefix: str, out: Path) -> list[Path]:
    """Every object under `prefix` into `out`, keeping the layout under the prefix."""
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    written = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            relative = _safe_relative(item["Key"], prefix)
            if relative is None:
                continue
            target = out.joinpath(*relative.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"]
            with target.open("wb") as handle:
                while chunk := body.read(_CHUNK):
                    handle.write(chunk)
            written.append(target)
    if not written:
        raise FetchError(f"s3://{bucket}/{prefix} holds no objects")
    return written


def download_archive(s3: Any, bucket: str, key: str, out: Path) -> None:
    """A model.tar.gz extracted into `out` (tarfile's "data" filter refuses links and paths out of it)."""
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    try:
        with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as archive:
            archive.extractall(out, filter="data")
    except (tarfile.TarError, OSError) as error:
        raise FetchError(f"s3://{bucket}/{key} is not a readable model.tar.gz: {error}") from None


def fetch(package_arn: str, out: Path, *, sagemaker: Any, s3: Any, allow_unapproved: bool = False) -> dict[str, Any]:
    """Download the package's model directory into `out` (absent or empty). Returns the package."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FetchError(f"{out} is not an empty folder: remove it or pass another --out")
    package = sagemaker.describe_model_package(ModelPackageName=package_arn)
    status = package.get("ModelApprovalStatus")
    if status != "Approved" and not allow_unapproved:
        raise FetchError(f"model package {package_arn} is {status}, not Approved: approve it in the registry "
                         "(or pass --allow-unapproved to try it)")
    uri, archive = model_data(package)
    bucket, key = split_s3_uri(uri)
    out.mkdir(parents=True, exist_ok=True)
    if archive:
        download_archive(s3, bucket, key, out)
    else:
        download_prefix(s3, bucket, key, out)
    if not (out / "config.json").is_file():
        raise FetchError(f"{uri} holds no config.json: it is not a model directory ModelImage can bake in")
    return package


def _clients(region: Optional[str]) -> tuple[Any, Any]:
    import boto3

    session = boto3.Session(region_name=region)
    return session.client("sagemaker"), session.client("s3")


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ml_inference_cli.model_package", description=__doc__.split("\n\n")[0])
    parser.add_argument("package_arn", help="the model package's ARN (arn:aws:sagemaker:REGION:ACCOUNT:model-package/GROUP/N)")
    parser.add_argument("--out", type=Path, default=Path(".model-package"), help="an absent or empty folder")
    parser.add_argument("--region", help="default: the package ARN's region")
    parser.add_argument("--allow-unapproved", action="store_true", help="fetch a package that is not Approved")
    args = parser.parse_args(argv)
    match = _PACKAGE_ARN.match(args.package_arn)
    if not match:
        parser.error(f"{args.package_arn!r} is not a model package ARN (arn:aws:sagemaker:REGION:ACCOUNT:model-package/GROUP/N)")
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        sagemaker, s3 = _clients(args.region or match.group(1))
        package = fetch(args.package_arn, args.out, sagemaker=sagemaker, s3=s3, allow_unapproved=args.allow_unapproved)
    except FetchError as error:
        print(f"model_package: error: {error}", file=sys.stderr)
        return 2
    except (BotoCoreError, ClientError) as error:
        print(f"model_package: error: {error}", file=sys.stderr)
        return 2
    metadata = package.get("CustomerMetadataProperties", {})
    print(f"fetched {args.package_arn} ({', '.join(f'{k} {v}' for k, v in sorted(metadata.items())) or 'no metadata'}) "
          f"into {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
