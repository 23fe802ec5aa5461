"""TrainingImage: the SageMaker training container built from `training/`, and BaseModel: what it
fine-tunes."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Optional

from aws_cdk import FileSystem
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_iam as iam
from constructs import Construct

from ..model_image import DEFAULT_EXCLUDES, packaged_inference_dir

#: PyTorch's CPU wheels (the default image) and PyPI, whose torch is the CUDA build (GPU images).
CPU_TORCH_INDEX = "https://download.pytorch.org/whl/cpu"
GPU_TORCH_INDEX = "https://pypi.org/simple"
#: Instance families with NVIDIA GPUs that the CUDA build of torch runs on.
_GPU_FAMILIES = re.compile(r"^ml\.(p[2-5][a-z]*|g[4-6][a-z]*|g4dn)\.")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
#: The base model training fine-tunes by default, at a fixed commit (2024-05-06): a training run
#: must not get other weights because the Hub's main branch moved.
DEFAULT_BASE_MODEL = "distilbert-base-uncased"
DEFAULT_BASE_REVISION = "12040accade4e8a0f71eabdb258fecc2e7e948be"


def packaged_training_dir() -> Path:
    """The `training/` build context: shipped in the wheel as `ml_inference_cdk/_training`, or
    beside the package in a source checkout."""
    here = Path(__file__).resolve().parents[2]
    for candidate in (here / "_training", here.parent / "training"):
        if (candidate / "Dockerfile").is_file():
            return candidate
    raise FileNotFoundError("the training/ build context was not found next to ml_inference_cdk; pass directory=")


def is_gpu_instance_type(instance_type: str) -> bool:
    """Whether `instance_type` (ml.g5.xlarge, ml.p4d.24xlarge, ...) has an NVIDIA GPU."""
    return bool(_GPU_FAMILIES.match(instance_type))


class TrainingImage(Construct):
    """The training container (`training/Dockerfile`) as a Docker image asset: train.py run as
    SageMaker's script mode runs it, with the inference package's ONNX export.

    `gpu=True` installs PyPI's CUDA build of torch (for ml.g*/ml.p* instance types); the default
    is PyTorch's CPU build, a few hundred MB instead of several GB.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        gpu: bool = False,
        directory: Optional[str] = None,
        inference_directory: Optional[str] = None,
    ) -> None:
        """
        :param gpu: build with CUDA torch for GPU instance types. Default: False (CPU torch).
        :param directory: the build context holding the Dockerfile. Default: `training/` shipped
            with this package.
        :param inference_directory: the inference package the image's ONNX export uses (the
            named build context `inference`). Default: `inference/` shipped with this package.
        """
        super().__init__(scope, construct_id)
        context = Path(directory) if directory else packaged_training_dir()
        if not (context / "Dockerfile").is_file():
            raise ValueError(f"directory {str(context)!r} has no Dockerfile: pass the training/ folder")
        inference = Path(inference_directory) if inference_directory else packaged_inference_dir()
        if not (inference / "export.py").is_file():
            raise ValueError(f"inference_directory {str(inference)!r} has no export.py: pass the inference/ folder")
        #: Whether the image carries CUDA torch.
        self.gpu = gpu
        #: The Docker image asset.
        self.asset = ecr_assets.DockerImageAsset(
            self,
            "Asset",
            directory=str(context),
            platform=ecr_assets.Platform.LINUX_AMD64,
            build_args={"TORCH_INDEX": GPU_TORCH_INDEX if gpu else CPU_TORCH_INDEX},
            build_contexts={"inference": str(inference.resolve())},
            # A build context outside the asset directory is not hashed by the CDK: a change to the
            # export must give a new image.
            extra_hash=FileSystem.fingerprint(str(inference), exclude=list(DEFAULT_EXCLUDES)),
            exclude=list(DEFAULT_EXCLUDES),
            display_name=f"{self.node.path} (training)",
        )
        #: The image URI (the training job's TrainingImage).
        self.image_uri: str = self.asset.image_uri

    def grant_pull(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let `grantee` (the training job's role) pull the image."""
        return self.asset.repository.grant_pull(grantee)


@dataclasses.dataclass(frozen=True)
class BaseModel:
    """What the training job fine-tunes: `BaseModel.from_hub(model_id, revision)` (downloaded by
    the job, which then needs internet access) or `BaseModel.from_bucket(prefix)` (a save_pretrained
    directory under `prefix` of the training bucket, given to the job as the channel `base`; the
    job then runs network-isolated). Either way the job loads safetensors weights only."""

    hub_id: Optional[str] = None
    prefix: Optional[str] = None
    #: The Hub commit (or tag) the job downloads.
    revision: Optional[str] = None

    @classmethod
    def from_hub(cls, model_id: str = DEFAULT_BASE_MODEL, revision: Optional[str] = None) -> "BaseModel":
        """`revision`: a commit sha (a branch moves). Default: `DEFAULT_BASE_REVISION` for the default
        model; required for any other."""
        if not _HUB_ID.match(model_id):
            raise ValueError(f"base model {model_id!r} is not a Hugging Face model id: use 'name' or 'org/name'")
        if revision is None:
            if model_id != DEFAULT_BASE_MODEL:
                raise ValueError(f"base model {model_id!r} needs a revision: pass the commit sha to fine-tune "
                                 "(the model's 'Files and versions' page on the Hub lists them), so that every run "
                                 "starts from the same weights")
            revision = DEFAULT_BASE_REVISION
        if not revision.strip():
            raise ValueError("base model revision must not be empty: use a commit sha")
        return cls(hub_id=model_id, revision=revision)

    @classmethod
    def from_bucket(cls, prefix: str = "base-model/") -> "BaseModel":
        if not prefix.endswith("/") or prefix.startswith("/"):
            raise ValueError(f"base model prefix {prefix!r} must be a key prefix such as 'base-model/'")
        return cls(prefix=prefix)

    @property
    def needs_internet(self) -> bool:
        return self.hub_id is not None

    def hyperparameter(self) -> str:
        """The job's `model_name_or_path`: the Hub id, or the `base` channel's folder."""
        return self.hub_id if self.hub_id is not None else "/opt/ml/input/data/base"

    def hyperparameters(self) -> dict[str, str]:
        """What the job is told of its base: `model_name_or_path`, and `model_revision` for a Hub model."""
        revision = {"model_revision": self.revision} if self.revision is not None else {}
        return {"model_name_or_path": self.hyperparameter(), **revision}


__all__ = ["BaseModel", "CPU_TORCH_INDEX", "DEFAULT_BASE_MODEL", "DEFAULT_BASE_REVISION", "GPU_TORCH_INDEX", "TrainingImage", "is_gpu_instance_type", "packaged_training_dir"]
