"""An app outside this repo installs the wheel (no deps) and subclasses LambdaInference."""

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
    from aws_cdk import Validations
    from cdk_nag import AwsSolutionsChecks

    import ml_inference_cdk
    from ml_inference_cdk import LambdaInference, ModelImage


    class TeamInference(LambdaInference):
        # A team's house rules on top of the library's defaults.
        def __init__(self, scope, construct_id, **props):
            super().__init__(scope, construct_id, memory_mib=4096, **props)
            self.function.add_environment("TEAM", "search")


    app = cdk.App(outdir="cdk.out")
    stack = cdk.Stack(app, "Consumer")
    image = ModelImage(stack, "Image")
    inference = TeamInference(stack, "Sentiment", image=image)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    assembly = app.synth()
    print(json.dumps({
        "package": ml_inference_cdk.__file__,
        "context": image.directory,
        "template": assembly.get_stack_by_name("Consumer").template,
    }))
    """
)


def test_installed_wheel_synthesizes_a_subclass_with_nag(tmp_path):
    source = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    for folder in ("ml_inference_cdk", "inference"):
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
    resources = output["template"]["Resources"].values()
    [function] = [r for r in resources if r["Type"] == "AWS::Lambda::Function"]
    assert function["Properties"]["MemorySize"] == 4096
    assert function["Properties"]["Environment"]["Variables"]["TEAM"] == "search"
    # The staged asset holds the packaged Dockerfile and app.
    staged = [p for p in (consumer / "cdk.out").glob("asset.*") if (p / "Dockerfile").exists()]
    assert staged and (staged[0] / "app" / "main.py").exists()


def test_package_root_exports_every_construct():
    # The root loads the constructs lazily, so it keeps its own copy of the export list.
    import ml_inference_cdk
    from ml_inference_cdk import constructs

    assert sorted(ml_inference_cdk.__all__) == sorted(constructs.__all__)
    for name in constructs.__all__:
        assert getattr(ml_inference_cdk, name) is getattr(constructs, name)
