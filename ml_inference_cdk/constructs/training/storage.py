"""The training bucket: data in, model artifacts and checkpoints out, one prefix each."""

from __future__ import annotations

import dataclasses

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from .._buckets import encrypted_data_bucket


@dataclasses.dataclass(frozen=True)
class TrainingPrefixes:
    """Where things live in the training bucket (every one a key prefix ending in '/')."""

    #: Training data (CSV / JSON Lines with text and label columns): the `train` channel; a new object starts a run.
    train: str = "train/"
    #: Evaluation data: the `eval` channel, what the quality gate judges on.
    eval: str = "eval/"
    #: A save_pretrained base model, with `BaseModel.from_bucket()`: the `base` channel.
    base_model: str = "base-model/"
    #: The jobs' uncompressed model directories, `<models><job name>/output/model/` (registered
    #: packages point here: never expired).
    models: str = "models/"
    #: Spot checkpoints, `<checkpoints><job name>/` (expire after `checkpoint_expiration`).
    checkpoints: str = "checkpoints/"

    def __post_init__(self) -> None:
        values = dataclasses.asdict(self)
        for name, prefix in values.items():
            if not prefix.endswith("/") or prefix.startswith("/") or prefix == "/":
                raise ValueError(f"prefix {name}={prefix!r} must be a key prefix such as 'train/'")
        if len(set(values.values())) != len(values):
            raise ValueError("the training bucket's prefixes must differ from each other")
        for a in values.values():
            for b in values.values():
                if a != b and b.startswith(a):
                    raise ValueError(f"prefix {b!r} lies under {a!r}: a new model would look like new data")


def new_training_bucket(
    scope: Construct, *, key: kms.IKey, prefixes: TrainingPrefixes, checkpoint_expiration: Duration,
    removal_policy: RemovalPolicy,
) -> tuple[s3.Bucket, s3.Bucket]:
    """The training bucket (KMS-encrypted, TLS only, versioned, access-logged, EventBridge
    notifications on) and the bucket its server access logs go to."""
    # Versioned: which data trained a registered model stays answerable after the data is replaced.
    return encrypted_data_bucket(
        scope,
        key=key,
        what="the training bucket",
        lifecycle_rules=[
            s3.LifecycleRule(prefix=prefixes.checkpoints, expiration=checkpoint_expiration),
            s3.LifecycleRule(noncurrent_version_expiration=Duration.days(90)),
        ],
        removal_policy=removal_policy,
        versioned=True,
    )


__all__ = ["TrainingPrefixes", "new_training_bucket"]
