"""examples/consumer, outside this repo, from the built wheel in a clean venv: every construct, subclassed,
with cdk-nag on, in an env-agnostic stack and in a region-bound one."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

EXAMPLE = REPO / "examples" / "consumer"


def _clean_venv(root: Path) -> Path:
    """A new venv that sees the library's dependencies (aws-cdk-lib, cdk-nag, ...) from this
    test's environment but not this checkout: its .pth lists only site-packages, and the
    editable install's own .pth files are not read from a path a .pth adds."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    [site] = (root / "lib").glob("python3*/site-packages")
    dependencies = [p for p in map(Path, sys.path) if p.name == "site-packages" and p.is_dir()]
    (site / "dependencies.pth").write_text("\n".join(map(str, dependencies)) + "\n")
    return root / "bin" / "python"


def test_the_consumer_example_synthesizes_from_the_wheel_with_nag(tmp_path):
    source = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    for folder in ("ml_inference_cdk", "ml_inference_cli", "inference"):
        shutil.copytree(REPO / folder, source / folder, ignore=ignore)
    dist = tmp_path / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist), str(source)],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    [wheel] = dist.glob("ml_inference_cdk-*.whl")
    # The example's requirements name the wheel by this version.
    assert f"dist/{wheel.name}" in (EXAMPLE / "requirements.txt").read_text()
    python = _clean_venv(tmp_path / "venv")
    [site] = (tmp_path / "venv" / "lib").glob("python3*/site-packages")
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--target", str(site), str(wheel)],
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stderr[-3000:]

    consumer = tmp_path / "consumer"
    shutil.copytree(EXAMPLE, consumer, ignore=shutil.ignore_patterns("cdk.out"))
    out = tmp_path / "out"
    # What `cdk synth` gives the app: cdk.json's context and an output folder.
    context = json.loads((consumer / "cdk.json").read_text())["context"]
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env.update(CDK_CONTEXT_JSON=json.dumps(context), CDK_OUTDIR=str(out), JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20")
    probe = subprocess.run(
        [str(python), "-c", "import ml_inference_cdk, sys; print(ml_inference_cdk.__file__)"],
        cwd=consumer, env=env, capture_output=True, text=True,
    )
    assert probe.stdout.startswith(str(site)), probe.stdout + probe.stderr  # the wheel, not this checkout
    result = subprocess.run([str(python), "app.py"], cwd=consumer, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-5000:]

    templates = {name: json.loads((out / f"{name}.template.json").read_text()) for name in ("Minimal", "TeamDev", "TeamProd")}
    minimal = {r["Type"] for r in templates["Minimal"]["Resources"].values()}
    assert {"AWS::Lambda::Function", "AWS::Lambda::Url"} <= minimal and "Url" in templates["Minimal"]["Outputs"]
    for name in ("TeamDev", "TeamProd"):
        resources = list(templates[name]["Resources"].values())
        types = {r["Type"] for r in resources}
        # Every construct, subclassed, in both kinds of stack; cdk-nag passed (synth would fail).
        assert {"AWS::Lambda::Function", "AWS::ECS::Service", "AWS::EKS::Cluster", "AWS::SageMaker::Endpoint",
                "AWS::StepFunctions::StateMachine", "AWS::ElasticLoadBalancingV2::LoadBalancer"} <= types, name
        [function] = [r for r in resources if r["Type"] == "AWS::Lambda::Function"
                      and r["Properties"].get("Environment", {}).get("Variables", {}).get("TEAM") == "search"]
        assert function["Properties"]["MemorySize"] == 4096
        [service] = [r for r in resources if r["Type"] == "AWS::ECS::Service"]
        assert service["Properties"]["DesiredCount"] == 2
        assert {"LambdaUrl", "FargateUrl", "EksIngressCommand", "SageMakerEndpointName"} <= set(templates[name]["Outputs"])
    # ALB log delivery: chosen per region at deploy time without a region, the CDK's own with one.
    assert "ElbAccessLogAccounts" in templates["TeamDev"].get("Mappings", {})
    assert "ElbAccessLogAccounts" not in templates["TeamProd"].get("Mappings", {})
    # The staged asset holds the packaged Dockerfile and app.
    staged = [p for p in out.glob("asset.*") if (p / "Dockerfile").exists()]
    assert staged and (staged[0] / "app" / "main.py").exists()


def test_package_root_exports_every_construct():
    import ml_inference_cdk
    from ml_inference_cdk import constructs

    assert sorted(ml_inference_cdk.__all__) == sorted(constructs.__all__)
    for name in constructs.__all__:
        assert getattr(ml_inference_cdk, name) is getattr(constructs, name)
