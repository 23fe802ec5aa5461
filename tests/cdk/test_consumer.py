"""An app outside this repo installs the wheel (no deps) and subclasses every construct, with cdk-nag on,
in an env-agnostic stack and in a region-bound one."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

from tests.conftest import REPO

CONSUMER_APP = textwrap.dedent(
    """
    import json
    import aws_cdk as cdk
    from aws_cdk import Duration, Validations
    from cdk_nag import AwsSolutionsChecks

    import ml_inference_cdk
    from ml_inference_cdk import (
        EksInference,
        EndpointCapacity,
        FargateInference,
        LambdaInference,
        ModelImage,
        SageMakerEndpoint,
        SharedNetwork,
        TrainingPipeline,
        QualityGate,
    )


    # A team's house rules on top of the library's defaults, one subclass per construct.
    class TeamLambda(LambdaInference):
        def __init__(self, scope, construct_id, **props):
            super().__init__(scope, construct_id, memory_mib=4096, **props)
            self.function.add_environment("TEAM", "search")


    class TeamFargate(FargateInference):
        def __init__(self, scope, construct_id, **props):
            super().__init__(scope, construct_id, min_tasks=2, **props)
            self.container.add_environment("TEAM", "search")


    class TeamEks(EksInference):
        def __init__(self, scope, construct_id, **props):
            super().__init__(scope, construct_id, namespace="search", **props)


    class TeamEndpoint(SageMakerEndpoint):
        def __init__(self, scope, construct_id, **props):
            super().__init__(scope, construct_id, capacity=EndpointCapacity.serverless(memory_mib=4096), **props)
            self.batch = self.add_batch_transform()


    class TeamTraining(TrainingPipeline):
        def __init__(self, scope, construct_id, **props):
            super().__init__(scope, construct_id, gate=QualityGate(min_accuracy=0.9, min_f1=0.9), **props)


    def build(stack):
        image = ModelImage(stack, "Image")
        network = SharedNetwork(stack, "Network")
        endpoint = TeamEndpoint(stack, "Endpoint", image=image)
        return {
            "lambda": TeamLambda(stack, "Classifier", image=image, warmup_interval=Duration.minutes(5)),
            "fargate": TeamFargate(stack, "Service", image=image, vpc=network.vpc),
            "eks": TeamEks(stack, "Cluster", image=image, vpc=network.vpc),
            "sagemaker": endpoint,
            "training": TeamTraining(stack, "Training", serving_image=image, endpoint=endpoint),
        }


    app = cdk.App(outdir="cdk.out")
    stacks = {
        "Agnostic": cdk.Stack(app, "Agnostic"),
        "Bound": cdk.Stack(app, "Bound", env=cdk.Environment(region="eu-west-1")),
    }
    built = {name: build(stack) for name, stack in stacks.items()}
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    assembly = app.synth()
    print(json.dumps({
        "package": ml_inference_cdk.__file__,
        "context": built["Agnostic"]["lambda"].image.directory,
        "templates": {name: assembly.get_stack_by_name(name).template for name in stacks},
    }))
    """
)

def test_installed_wheel_synthesizes_a_subclass_with_nag(tmp_path):
    source = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    for folder in ("ml_inference_cdk", "ml_inference_cli", "inference", "training"):
        shutil.copytree(REPO / folder, source / folder, ignore=ignore)
    dist, site, consumer = tmp_path / "dist", tmp_path / "site", tmp_path / "consumer"
    build = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist), str(source)],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    [wheel] = dist.glob("ml_inference_cdk-*.whl")
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--target", str(site), str(wheel)],
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stderr[-3000:]

    consumer.mkdir()
    (consumer / "app.py").write_text(CONSUMER_APP)
    env = {**os.environ, "PYTHONPATH": str(site), "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    result = subprocess.run(
        [sys.executable, "app.py"], cwd=consumer, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-5000:]
    output = json.loads(result.stdout.strip().splitlines()[-1])

    # The library and its Docker build context both came from the wheel, not this checkout.
    assert output["package"].startswith(str(site))
    assert output["context"].startswith(str(site))
    for name, template in output["templates"].items():
        resources = list(template["Resources"].values())
        types = {r["Type"] for r in resources}
        # Every construct is there, in both kinds of stack, and cdk-nag passed (synth would fail).
        assert {"AWS::Lambda::Function", "AWS::ECS::Service", "AWS::EKS::Cluster", "AWS::SageMaker::Endpoint",
                "AWS::StepFunctions::StateMachine", "AWS::ElasticLoadBalancingV2::LoadBalancer",
                "AWS::SageMaker::ModelPackageGroup"} <= types, name
        [function] = [r for r in resources if r["Type"] == "AWS::Lambda::Function" and "Sequence" in
                      json.dumps(r["Properties"].get("Description", ""))]
        assert function["Properties"]["MemorySize"] == 4096
        assert function["Properties"]["Environment"]["Variables"]["TEAM"] == "search"
        [service] = [r for r in resources if r["Type"] == "AWS::ECS::Service"]
        assert service["Properties"]["DesiredCount"] == 2
    # ALB log delivery: chosen per region at deploy time without a region, the CDK's own with one.
    assert "ElbAccessLogAccounts" in output["templates"]["Agnostic"].get("Mappings", {})
    assert "ElbAccessLogAccounts" not in output["templates"]["Bound"].get("Mappings", {})
    # The staged asset holds the packaged Dockerfile and app.
    staged = [p for p in (consumer / "cdk.out").glob("asset.*") if (p / "Dockerfile").exists()]
    assert [p for p in staged if (p / "app" / "main.py").exists()]
    # And the training image's: train.py and its modules, from the wheel's _training.
    assert [p for p in staged if (p / "train.py").exists() and (p / "train_data.py").exists()]


def test_package_root_exports_every_construct():
    import ml_inference_cdk
    from ml_inference_cdk import constructs

    assert sorted(ml_inference_cdk.__all__) == sorted(constructs.__all__)
    for name in constructs.__all__:
        assert getattr(ml_inference_cdk, name) is getattr(constructs, name)
