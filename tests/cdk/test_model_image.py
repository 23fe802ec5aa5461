"""ModelImage: what the CLI will build, when, and the props it refuses."""

from __future__ import annotations

import shutil

import pytest
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_iam as iam

from ml_inference_cdk import ModelImage, Precision
from ml_inference_cdk.constructs.model_image import (
    DEFAULT_MODEL_ID,
    DOCKER_TARGETS,
    DEFAULT_MODEL_REVISION,
    packaged_inference_dir,
)
from tests.cdk.support import docker_images, new_stack, template_of
from tests.conftest import REPO


def images_for(target="lambda", **props):
    app, stack = new_stack()
    image = ModelImage(stack, "Image", **props)
    # A real consumer, so the stack has a resource (an empty template fails validation).
    image.grant_pull(iam.Role(stack, "Puller", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com")), target)
    return image, docker_images(app, stack)


def test_packaged_context_is_the_repo_inference_folder():
    assert packaged_inference_dir() == REPO / "inference"


def test_default_builds_the_pinned_sst2_model_for_amd64():
    image, [source] = images_for()
    assert source["dockerBuildTarget"] == "lambda"
    assert source["platform"] == "linux/amd64"
    assert source["dockerBuildArgs"] == {
        "MODEL_SOURCE": "hub",
        "MODEL_ID": DEFAULT_MODEL_ID,
        "MODEL_REVISION": DEFAULT_MODEL_REVISION,
    }
    assert "dockerBuildContexts" not in source
    assert image.model_version == f"{DEFAULT_MODEL_ID}@{DEFAULT_MODEL_REVISION[:12]}"
    # The base image and the pickle opt-in are the Dockerfile's defaults: its pinned digest, safetensors only.
    assert not {"PYTHON_IMAGE", "ALLOW_PICKLED_WEIGHTS"} & set(image.build_args) and not image.allow_pickled_weights


def test_another_hub_model_builds_the_revision_given():
    image, [source] = images_for(model_id="org/my-model", model_revision="0123456789abcdef0123456789abcdef01234567")
    assert source["dockerBuildArgs"]["MODEL_ID"] == "org/my-model"
    assert source["dockerBuildArgs"]["MODEL_REVISION"] == "0123456789abcdef0123456789abcdef01234567"
    assert image.model_version == "org/my-model@0123456789ab"


def test_fails_when_another_hub_model_has_no_revision():
    app, stack = new_stack()
    with pytest.raises(ValueError, match=r"model_id 'org/my-model' needs model_revision: pass the commit sha"):
        ModelImage(stack, "Image", model_id="org/my-model")


def test_pickled_weights_are_an_explicit_build_arg():
    image, [source] = images_for(model_id="org/old-model", model_revision="v1", allow_pickled_weights=True)
    assert source["dockerBuildArgs"]["ALLOW_PICKLED_WEIGHTS"] == "1" and image.allow_pickled_weights
    assert "ARG ALLOW_PICKLED_WEIGHTS=0\n" in (packaged_inference_dir() / "Dockerfile").read_text()


def test_int8_precision_is_a_build_arg_and_part_of_the_version():
    image, [source] = images_for(precision=Precision.INT8)
    assert source["dockerBuildArgs"]["PRECISION"] == "int8"
    assert image.precision is Precision.INT8
    assert image.model_version == f"{DEFAULT_MODEL_ID}@{DEFAULT_MODEL_REVISION[:12]}+int8"


def test_fp32_is_the_dockerfile_default_and_adds_no_build_arg():
    image, [source] = images_for(precision=Precision.FP32)
    assert "PRECISION" not in source["dockerBuildArgs"] and image.precision is Precision.FP32
    assert "ARG PRECISION=fp32\n" in (packaged_inference_dir() / "Dockerfile").read_text()
    _, [default] = images_for()
    assert default["tag"] == source["tag"]


def test_precision_works_with_a_local_model(tmp_path):
    image, [source] = images_for(model_directory=str(_model_dir(tmp_path)), precision=Precision.INT8)
    assert source["dockerBuildArgs"] == {"MODEL_SOURCE": "local", "PRECISION": "int8"}


def test_arm64_platform():
    image, [source] = images_for(platform=ecr_assets.Platform.LINUX_ARM64)
    assert source["platform"] == "linux/arm64"
    assert image.lambda_architecture.name == "arm64"
    assert image.cpu_architecture.__class__.__name__ == "CpuArchitecture"


def _model_dir(tmp_path, weights=b"weights"):
    model = tmp_path / "model"
    model.mkdir(exist_ok=True)
    (model / "config.json").write_text('{"id2label": {"0": "NEGATIVE", "1": "POSITIVE"}}')
    (model / "model.safetensors").write_bytes(weights)
    return model


def test_local_model_directory_is_a_named_build_context(tmp_path):
    model = _model_dir(tmp_path)
    image, [source] = images_for(model_directory=str(model))
    assert source["dockerBuildArgs"] == {"MODEL_SOURCE": "local"}
    assert source["dockerBuildContexts"] == {"model-local": str(model.resolve())}
    assert image.model_version == "local:model"


def test_fails_when_a_local_model_has_only_pickled_weights(tmp_path):
    model = _model_dir(tmp_path)
    (model / "model.safetensors").rename(model / "pytorch_model.bin")
    app, stack = new_stack()
    with pytest.raises(ValueError, match="has no safetensors weights.*allow_pickled_weights=True"):
        ModelImage(stack, "Image", model_directory=str(model))
    image, [source] = images_for(model_directory=str(model), allow_pickled_weights=True)
    assert source["dockerBuildArgs"] == {"MODEL_SOURCE": "local", "ALLOW_PICKLED_WEIGHTS": "1"}


def test_a_retrained_local_model_gives_a_new_image(tmp_path):
    model = _model_dir(tmp_path, b"one")
    _, [first] = images_for(model_directory=str(model))
    _, [same] = images_for(model_directory=str(model))
    _model_dir(tmp_path, b"two")
    _, [second] = images_for(model_directory=str(model))
    assert first["tag"] == same["tag"]
    assert first["tag"] != second["tag"]


def test_unrelated_files_do_not_change_the_asset_hash(tmp_path):
    context = tmp_path / "inference"
    shutil.copytree(REPO / "inference", context, ignore=shutil.ignore_patterns("__pycache__"))
    _, [before] = images_for(directory=str(context))
    for junk in ("app/__pycache__/x.cpython-311.pyc", "NOTES.md", ".pytest_cache/v", "tests/test_x.py"):
        path = context / junk
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("junk")
    _, [after_junk] = images_for(directory=str(context))
    (context / "app" / "extra.py").write_text("# a real change\n")
    _, [after_change] = images_for(directory=str(context))
    assert before["tag"] == after_junk["tag"]
    assert before["tag"] != after_change["tag"]


def test_assets_are_created_on_demand_and_reused():
    app, stack = new_stack()
    image = ModelImage(stack, "Image")
    assert image.node.try_find_child("ServerAsset") is None
    assert image.asset("server") is image.asset("server")
    image.grant_pull(iam.Role(stack, "Puller", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com")), "lambda")
    image.ecs_image()
    targets = sorted(source["dockerBuildTarget"] for source in docker_images(app, stack))
    assert targets == ["lambda", "server"]


def test_the_pytorch_reference_server_is_a_target_too():
    app, stack = new_stack()
    image = ModelImage(stack, "Image")
    image.grant_pull(iam.Role(stack, "Puller", assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com")),
                     "server-pytorch")
    assert image.node.try_find_child("ServerPytorchAsset") is not None
    [source] = docker_images(app, stack)
    assert source["dockerBuildTarget"] == "server-pytorch"


def test_grant_pull_scopes_to_the_image_repository():
    app, stack = new_stack()
    image = ModelImage(stack, "Image")
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    image.grant_pull(role)
    assert image.image_uri("server")
    policies = template_of(stack).find_resources("AWS::IAM::Policy")
    statements = [s for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]]
    pull = next(s for s in statements if "ecr:BatchGetImage" in s["Action"])
    assert pull["Resource"] != "*"


def test_every_target_the_construct_knows_is_in_the_dockerfile():
    dockerfile = (packaged_inference_dir() / "Dockerfile").read_text()
    for target in DOCKER_TARGETS:
        assert f" AS {target}\n" in dockerfile
    for arg in ("MODEL_SOURCE", "MODEL_ID", "MODEL_REVISION", "PRECISION"):
        assert f"ARG {arg}" in dockerfile
    # The named build context ModelImage passes is read with COPY --from, and no stage shadows it.
    assert "COPY --from=model-local / /\n" in dockerfile and " AS model-local\n" not in dockerfile


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"model_id": "not a model id"}, "is not a Hugging Face model id"),
        ({"model_revision": " "}, "model_revision must not be empty"),
        ({"platform": ecr_assets.Platform.custom("linux/386")}, "is not supported"),
        ({"build_args": {"MODEL_ID": "x"}}, "is set by ModelImage"),
        ({"build_args": {"PRECISION": "int8"}}, "is set by ModelImage"),
        ({"build_args": {"ALLOW_PICKLED_WEIGHTS": "1"}}, "is set by ModelImage"),
        ({"precision": "int8"}, r"precision must be a Precision \(Precision.FP32 or Precision.INT8\), got 'int8'"),
    ],
    ids=["bad-model-id", "empty-revision", "unsupported-platform", "build-arg-override", "precision-build-arg",
         "pickle-build-arg", "unsupported-precision"],
)
def test_fails_when_props_are_invalid(props, message):
    app, stack = new_stack()
    with pytest.raises(ValueError, match=message):
        ModelImage(stack, "Image", **props)


def test_fails_when_directory_has_no_dockerfile(tmp_path):
    app, stack = new_stack()
    with pytest.raises(ValueError, match="has no Dockerfile"):
        ModelImage(stack, "Image", directory=str(tmp_path))


def test_fails_when_model_directory_is_not_a_saved_model(tmp_path):
    app, stack = new_stack()
    with pytest.raises(ValueError, match="has no config.json"):
        ModelImage(stack, "Image", model_directory=str(tmp_path))


def test_fails_when_model_directory_and_model_id_are_both_given(tmp_path):
    app, stack = new_stack()
    with pytest.raises(ValueError, match="either model_directory or model_id"):
        ModelImage(stack, "Image", model_directory=str(_model_dir(tmp_path)), model_id="org/x")


def test_fails_when_target_is_unknown():
    app, stack = new_stack()
    with pytest.raises(ValueError, match="unknown Docker target"):
        ModelImage(stack, "Image").asset("gpu")
