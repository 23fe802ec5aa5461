"""ModelImage: the inference container, built from `inference/`, with the model baked in."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Optional

from aws_cdk import FileSystem
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

DEFAULT_MODEL_ID = "distilbert-base-uncased-finetuned-sst-2-english"
# The commit transformers' own sentiment pipeline pins; a fixed revision keeps the image reproducible.
DEFAULT_MODEL_REVISION = "714eb0fa89d2f80546fda750413ed43d93601a13"

#: The Docker targets `inference/Dockerfile` defines: `server` and `lambda` serve the model
#: exported to ONNX at build time; `server-pytorch` serves it with PyTorch (the reference);
#: `server-gpu` serves it with CUDA PyTorch, with `server`'s contract (port, user, entrypoint).
DOCKER_TARGETS = ("server", "lambda", "server-pytorch", "server-gpu")



class Precision(enum.Enum):
    """The precision of the ONNX model the `server` and `lambda` targets serve (the Dockerfile's
    PRECISION build arg)."""

    #: The exported model as trained: the same answers as PyTorch (within 1e-3).
    FP32 = "fp32"
    #: Dynamic int8 quantization: about 2.3x the throughput on CPU; probabilities differ a little
    #: and near-ties can flip (the build prints its argmax agreement with PyTorch).
    INT8 = "int8"


#: Files in the build context that never reach the image: they must not change the asset hash.
DEFAULT_EXCLUDES = (
    "**/__pycache__",
    "**/*.pyc",
    "**/.pytest_cache",
    "**/.mypy_cache",
    "**/.ruff_cache",
    "**/.DS_Store",
    "**/*.md",
    "tests",
    "cdk.out",
    ".local-model",
)

_MODEL_ID_PATTERN = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
_BUILD_CONTEXT_NAME = "model-local"


def packaged_inference_dir() -> Path:
    """The `inference/` build context shipped with this package.

    An installed wheel carries it as `ml_inference_cdk/_inference`; a source checkout has it
    beside the package.
    """
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "_inference", here.parent / "inference"):
        if (candidate / "Dockerfile").is_file():
            return candidate
    raise FileNotFoundError(
        "the inference/ build context was not found next to ml_inference_cdk; "
        "pass directory= to ModelImage"
    )


class ModelImage(Construct):
    """The inference container image, built from `inference/` as CDK Docker assets.

    One construct describes the image; each deployment target asks it for what it needs
    (`lambda_code()`, `ecs_image()`, `image_uri()` with `grant_pull()`), and the Docker
    asset for that target (`server` or `lambda`) is created on the first request, so an app
    that only deploys Lambda never builds the server image.

    The model is baked in at build time, so no target downloads anything at start:

    - by default the Hugging Face model `model_id` at `model_revision` (fetched by
      `docker build` on the machine that runs `cdk deploy`);
    - or `model_directory`, a local directory saved with `save_pretrained` (the output of
      `training/`), passed to the build as the named build context `model-local`.

    Assets carry no provenance attestations (Lambda rejects image indexes): the pinned CDK
    CLI builds with `BUILDX_NO_DEFAULT_ATTESTATIONS=1`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        directory: Optional[str] = None,
        model_id: Optional[str] = None,
        model_revision: Optional[str] = None,
        model_directory: Optional[str] = None,
        platform: Optional[ecr_assets.Platform] = None,
        build_args: Optional[Mapping[str, str]] = None,
        exclude: Optional[Sequence[str]] = None,
        precision: Precision = Precision.FP32,
        allow_pickled_weights: bool = False,
    ) -> None:
        """
        :param directory: the Docker build context holding the Dockerfile. Default: the
            `inference/` folder shipped with this package.
        :param model_id: Hugging Face model id baked into the image. Default:
            `distilbert-base-uncased-finetuned-sst-2-english`. Not allowed with
            `model_directory`.
        :param model_revision: the model's git revision: a commit sha pins it (a branch such as
            `main` moves, and each build could bake in other weights). Default: the commit pinned
            in `DEFAULT_MODEL_REVISION` for the default model; required with any other `model_id`.
        :param model_directory: a local model directory (config.json, weights, tokenizer)
            to bake in instead of a Hugging Face model. Default: none, use `model_id`.
        :param platform: the image platform. Default: `Platform.LINUX_AMD64`; use
            `Platform.LINUX_ARM64` for Graviton (Lambda arm64, Fargate ARM64).
        :param build_args: extra Docker build args. Default: none.
        :param exclude: extra glob patterns left out of the build context (and its hash),
            on top of `DEFAULT_EXCLUDES`. Default: none.
        :param precision: the precision of the ONNX model the `server` and `lambda` targets
            serve. `Precision.INT8` (dynamic quantization) gives about 2.3x the throughput on
            CPU, but its probabilities differ slightly from the fp32 model's and a few
            borderline answers flip: the build prints its argmax agreement with PyTorch; check
            it on your own evaluation set first. Default: `Precision.FP32`, the same answers as
            PyTorch (within 1e-3).
        :param allow_pickled_weights: also bake in and load pickled weights (`pytorch_model.bin`)
            where the model has no safetensors. Unpickling runs code the file names, so a model from
            an untrusted source could run anything in the build and in the serving container.
            Default: False, safetensors only: a model without them fails the build (or the synth,
            for a `model_directory`).
        """
        super().__init__(scope, construct_id)

        platform = platform or ecr_assets.Platform.LINUX_AMD64
        if platform.platform not in ("linux/amd64", "linux/arm64"):
            raise ValueError(
                f"platform {platform.platform!r} is not supported: use Platform.LINUX_AMD64 "
                "or Platform.LINUX_ARM64"
            )
        if not isinstance(precision, Precision):
            raise ValueError(f"precision must be a Precision (Precision.FP32 or Precision.INT8), got {precision!r}")
        context_dir = Path(directory) if directory else packaged_inference_dir()
        if not (context_dir / "Dockerfile").is_file():
            raise ValueError(f"directory {str(context_dir)!r} has no Dockerfile: pass the inference/ folder")

        args = {}
        build_contexts = None
        extra_hash = None
        if model_directory is not None:
            if model_id is not None or model_revision is not None:
                raise ValueError("give either model_directory or model_id/model_revision, not both")
            model_path = Path(model_directory).resolve()
            if not (model_path / "config.json").is_file():
                raise ValueError(
                    f"model_directory {model_directory!r} has no config.json: pass a directory "
                    "saved with save_pretrained (the output of training/)"
                )
            if not allow_pickled_weights and not any(model_path.glob("*.safetensors")):
                raise ValueError(
                    f"model_directory {model_directory!r} has no safetensors weights: save the model with "
                    "save_pretrained (safetensors is its default), or pass allow_pickled_weights=True to bake "
                    "in pickled weights (pytorch_model.bin), which can run code when loaded"
                )
            args["MODEL_SOURCE"] = "local"
            build_contexts = {_BUILD_CONTEXT_NAME: str(model_path)}
            # The build context outside the asset directory is not hashed by the CDK: do it here,
            # so a retrained model gives a new image.
            extra_hash = FileSystem.fingerprint(str(model_path))
            model_version = f"local:{model_path.name}"
        else:
            model_id = model_id or DEFAULT_MODEL_ID
            if not _MODEL_ID_PATTERN.match(model_id):
                raise ValueError(
                    f"model_id {model_id!r} is not a Hugging Face model id: use 'name' or 'org/name'"
                )
            if model_revision is None:
                if model_id != DEFAULT_MODEL_ID:
                    raise ValueError(
                        f"model_id {model_id!r} needs model_revision: pass the commit sha to bake in (the "
                        "model's 'Files and versions' page on the Hub lists them), so that every build "
                        "bakes in the same weights"
                    )
                model_revision = DEFAULT_MODEL_REVISION
            if not model_revision.strip():
                raise ValueError("model_revision must not be empty: use a commit sha, tag or branch")
            args.update(MODEL_SOURCE="hub", MODEL_ID=model_id, MODEL_REVISION=model_revision)
            model_version = f"{model_id}@{model_revision[:12]}"
        if precision is not Precision.FP32:
            # fp32 is the Dockerfile's default: passed only when it differs, so fp32 images keep
            # the build args (and asset hashes) they had before this prop existed.
            args["PRECISION"] = precision.value
            model_version += f"+{precision.value}"
        if allow_pickled_weights:
            # Passed only when opted in, like PRECISION: the default images keep their build args.
            args["ALLOW_PICKLED_WEIGHTS"] = "1"
        #: Whether the image may bake in and load pickled weights (pytorch_model.bin).
        self.allow_pickled_weights = allow_pickled_weights
        #: The precision of the served ONNX model.
        self.precision = precision
        #: What the image serves, as the service reports it: `<model id>@<revision>`,
        #: `local:<directory name>`, with `+int8` for an int8 model.
        self.model_version = model_version
        for key, value in (build_args or {}).items():
            if key in args or key in ("PRECISION", "ALLOW_PICKLED_WEIGHTS"):
                raise ValueError(f"build arg {key} is set by ModelImage: use its props instead")
            args[key] = value

        #: The image platform (linux/amd64 or linux/arm64).
        self.platform = platform
        #: The Docker build context directory.
        self.directory = str(context_dir)
        self._build_args = args
        self._build_contexts = build_contexts
        self._extra_hash = extra_hash
        self._exclude = [*DEFAULT_EXCLUDES, *(exclude or ())]
        self._assets: dict[str, ecr_assets.DockerImageAsset] = {}

    @property
    def is_arm64(self) -> bool:
        return self.platform.platform == "linux/arm64"

    @property
    def lambda_architecture(self) -> lambda_.Architecture:
        """The Lambda architecture that runs this image."""
        return lambda_.Architecture.ARM_64 if self.is_arm64 else lambda_.Architecture.X86_64

    @property
    def cpu_architecture(self) -> ecs.CpuArchitecture:
        """The ECS CPU architecture that runs this image."""
        return ecs.CpuArchitecture.ARM64 if self.is_arm64 else ecs.CpuArchitecture.X86_64

    @property
    def build_args(self) -> Mapping[str, str]:
        """The Docker build args every asset of this image is built with."""
        return dict(self._build_args)

    def asset(self, target: str) -> ecr_assets.DockerImageAsset:
        """The Docker image asset for `target` (`server` or `lambda`), created on first use."""
        if target not in DOCKER_TARGETS:
            raise ValueError(f"unknown Docker target {target!r}: use one of {', '.join(DOCKER_TARGETS)}")
        if target not in self._assets:
            self._assets[target] = ecr_assets.DockerImageAsset(
                self,
                "".join(part.capitalize() for part in target.split("-")) + "Asset",
                directory=self.directory,
                target=target,
                platform=self.platform,
                build_args=self._build_args,
                build_contexts=self._build_contexts,
                extra_hash=self._extra_hash,
                exclude=self._exclude,
                display_name=f"{self.node.path} ({target})",
            )
        return self._assets[target]

    def lambda_code(self) -> lambda_.DockerImageCode:
        """Code for a `DockerImageFunction`: the `lambda` target."""
        asset = self.asset("lambda")
        return lambda_.DockerImageCode.from_ecr(asset.repository, tag_or_digest=asset.image_tag)

    def ecs_image(self) -> ecs.ContainerImage:
        """A container image for ECS task definitions: the `server` target."""
        return ecs.ContainerImage.from_docker_image_asset(self.asset("server"))

    def image_uri(self, target: str = "server") -> str:
        """The image URI of `target`, for services that take a URI (SageMaker, EKS)."""
        return self.asset(target).image_uri

    def grant_pull(self, grantee: iam.IGrantable, target: str = "server") -> iam.Grant:
        """Let `grantee` pull the image of `target` from ECR."""
        return self.asset(target).repository.grant_pull(grantee)


__all__ = ["ModelImage", "Precision", "DEFAULT_MODEL_ID", "DEFAULT_MODEL_REVISION", "DEFAULT_EXCLUDES", "packaged_inference_dir"]
