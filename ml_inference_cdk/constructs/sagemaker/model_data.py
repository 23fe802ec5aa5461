"""ModelData: model artifacts SageMaker loads into /opt/ml/model, from S3 or a local directory."""

from __future__ import annotations

import dataclasses
import gzip
import io
import tarfile
from pathlib import Path
from typing import Any, Optional

import jsii
from aws_cdk import (
    Acknowledgment,
    AssetHashType,
    BundlingOptions,
    BundlingOutput,
    DockerImage,
    ILocalBundling,
    Validations,
)
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from .._checks import iam5_resource_finding


@dataclasses.dataclass(frozen=True)
class ModelDataConfig:
    """What `ModelData.bind` gives the model's container: the S3 URI, and its layout."""

    uri: str
    compressed: bool


@jsii.implements(ILocalBundling)
class _TarGzBundler:
    """Packs a model directory into model.tar.gz locally (no Docker), byte-for-byte reproducible."""

    def __init__(self, source: Path) -> None:
        self._source = source

    def try_bundle(self, output_dir: str, *_args: Any, **_kwargs: Any) -> bool:
        write_model_archive(self._source, Path(output_dir) / "model.tar.gz")
        return True


def write_model_archive(source: Path, archive: Path) -> None:
    """Write `source`'s files into the gzipped tar `archive`, the layout SageMaker extracts to
    /opt/ml/model. Sorted names, zero times and owners: the same files give the same bytes."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            info = tarfile.TarInfo(path.relative_to(source).as_posix())
            info.size = path.stat().st_size
            info.mode = 0o644
            info.mtime = 0
            with path.open("rb") as handle:
                tar.addfile(info, handle)
    with archive.open("wb") as out, gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0) as gz:
        gz.write(buffer.getvalue())


class ModelData:
    """Model artifacts SageMaker loads into /opt/ml/model, replacing the model baked into the image.

    `from_s3_archive(bucket, key)` (a model.tar.gz), `from_s3_prefix(bucket, prefix)` (uncompressed
    files under a prefix) or `from_directory(path)` (a local directory, packed into a
    reproducible model.tar.gz and uploaded as an asset).

    The `server` image serves ONNX Runtime and carries no torch: the artifacts must be a
    directory exported with `python -m inference.export HF_DIR OUT_DIR [--int8]` (it holds
    model.onnx, the tokenizer and the labels). `from_directory` checks that; S3 artifacts are
    not visible at synth, so export them the same way. (To bake a Hugging Face directory into
    the image instead, use `ModelImage(model_directory=...)`: the image build exports it.)
    """

    def __init__(self, *, bucket: Optional[s3.IBucket], key: str, compressed: bool, directory: Optional[Path]) -> None:
        self._bucket = bucket
        self._key = key
        #: Whether the artifacts are one model.tar.gz (else uncompressed files under a prefix).
        self.compressed = compressed
        self._directory = directory

    @classmethod
    def from_s3_archive(cls, bucket: s3.IBucket, key: str) -> "ModelData":
        if not key or key.endswith("/"):
            raise ValueError(f"model archive key {key!r} must name a model.tar.gz object, not a prefix")
        return cls(bucket=bucket, key=key, compressed=True, directory=None)

    @classmethod
    def from_s3_prefix(cls, bucket: s3.IBucket, prefix: str) -> "ModelData":
        if not prefix.endswith("/"):
            raise ValueError(f"model prefix {prefix!r} must end with '/'")
        return cls(bucket=bucket, key=prefix, compressed=False, directory=None)

    @classmethod
    def from_directory(cls, path: str) -> "ModelData":
        directory = Path(path).resolve()
        if not (directory / "config.json").is_file():
            raise ValueError(
                f"model directory {path!r} has no config.json: pass a model directory exported with "
                "`python -m inference.export HF_DIR OUT_DIR`"
            )
        if not (directory / "model.onnx").is_file():
            raise ValueError(
                f"model directory {path!r} has no model.onnx: the server image serves ONNX Runtime only; "
                f"export it first with `python -m inference.export {path} OUT_DIR` and pass OUT_DIR"
            )
        return cls(bucket=None, key="", compressed=True, directory=directory)

    def bind(self, scope: Construct, role: iam.IRole) -> "ModelDataConfig":
        """Where SageMaker reads the artifacts, after granting `role` read access to them (a local
        directory becomes an asset named "ModelData" in `scope`)."""
        bucket, key = self._bucket, self._key
        if self._directory is not None:
            asset = s3_assets.Asset(
                scope,
                "ModelData",
                path=str(self._directory),
                asset_hash_type=AssetHashType.SOURCE,
                bundling=BundlingOptions(
                    # Never used: the local bundler always succeeds, so synth needs no Docker.
                    image=DockerImage.from_registry("scratch"),
                    local=_TarGzBundler(self._directory),
                    output_type=BundlingOutput.ARCHIVED,
                ),
            )
            bucket, key = asset.bucket, asset.s3_object_key
        assert bucket is not None
        if self.compressed:
            role.add_to_principal_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=[bucket.arn_for_objects(key)]))
        else:
            objects = bucket.arn_for_objects(f"{key}*")
            role.add_to_principal_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=[objects]))
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["s3:ListBucket"], resources=[bucket.bucket_arn], conditions={"StringLike": {"s3:prefix": f"{key}*"}}
                )
            )
            Validations.of(role).acknowledge(
                Acknowledgment(
                    id=iam5_resource_finding(scope, objects),
                    reason="SageMaker reads every file of the uncompressed model under this prefix, and only those.",
                )
            )
        if bucket.encryption_key is not None:
            bucket.encryption_key.grant(role, "kms:Decrypt")
        return ModelDataConfig(uri=f"s3://{bucket.bucket_name}/{key}", compressed=self.compressed)


__all__ = ["ModelData", "ModelDataConfig", "write_model_archive"]
