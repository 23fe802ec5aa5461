"""``make image``: build the Docker targets of inference/Dockerfile exactly as ``cdk deploy`` would.

What to build comes from ``ModelImage`` itself: a small CDK app with one ``ModelImage`` per model
(``model_directory=``, so ``MODEL_SOURCE=local`` and the ``model-local`` build context) is
synthesized, and each image is built from its asset's staged build context in cdk.out with the
build args, build contexts, target and platform of the asset manifest, the file the CDK CLI reads.
The two can never drift. An image whose asset hash is already built is not built again.

    python -m image.build [--engine buildah|docker] [--only server lambda ...] [--rebuild]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WORK_DIR = REPO / "build" / "image"
#: The models baked in: the tests' tiny random model, and bench/'s full-size random DistilBERT.
MODELS = ("tiny", "full")
#: (target, model) pairs `make image` builds. Sizes and cold start are the full model's; the tiny
#: images run the same checks in seconds; server-gpu (multi-GB) is built once, with the full model.
BUILDS = (("server", "tiny"), ("lambda", "tiny"), ("server-pytorch", "tiny"),
          ("server", "full"), ("lambda", "full"), ("server-gpu", "full"))
HASH_LABEL = "ml-inference.asset-hash"


@dataclass(frozen=True)
class ImageBuild:
    target: str
    model: str
    tag: str
    context: Path
    build_args: dict[str, str]
    build_contexts: dict[str, str]
    platform: str
    asset_hash: str


def tag_of(target: str, model: str) -> str:
    """ml-inference:server for the full-size model, ml-inference:server-tiny for the tiny one."""
    return f"ml-inference:{target}" + ("" if model == "full" else f"-{model}")


def model_dirs(work_dir: Path = WORK_DIR) -> dict[str, Path]:
    """Build the two random models offline (once; each keeps its model_info.json)."""
    from bench.model import build_model
    from inference.app.dev_model import build_tiny_model

    tiny, full = work_dir / "models" / "tiny", work_dir / "models" / "full"
    if not (tiny / "model_info.json").is_file():
        build_tiny_model(tiny, max_length=64)
    build_model(full)
    return {"tiny": tiny, "full": full}


def plan(builds: tuple[tuple[str, str], ...], models: dict[str, Path], outdir: Path) -> list[ImageBuild]:
    """Synthesize ModelImages for ``models`` and read each asset's build from the asset manifest."""
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    import aws_cdk as cdk
    from aws_cdk import aws_iam as iam

    from ml_inference_cdk import ModelImage

    context = json.loads((REPO / "cdk.json").read_text())["context"]
    if outdir.is_dir() and outdir.parent == WORK_DIR:
        shutil.rmtree(outdir)  # the staged contexts of earlier runs
    app = cdk.App(outdir=str(outdir), context=context)
    stack = cdk.Stack(app, "ImageBuild")
    # A consumer of the images, as every target is (a template with no resource fails validation).
    puller = iam.Role(stack, "Puller", assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"))
    assets = {}
    for model in sorted({model for _, model in builds}):
        image = ModelImage(stack, f"Image-{model}", model_directory=str(models[model]))
        for target in [t for t, m in builds if m == model]:
            image.grant_pull(puller, target)
            assets[(target, model)] = image.asset(target).asset_hash
    assembly = app.synth()
    manifest = json.loads((Path(assembly.directory) / f"{stack.artifact_id}.assets.json").read_text())
    # Each image asset's destination tag is its asset hash.
    by_hash = {next(iter(entry["destinations"].values()))["imageTag"]: entry["source"]
               for entry in manifest.get("dockerImages", {}).values()}
    plans = []
    for target, model in builds:
        source = by_hash[assets[(target, model)]]
        assert source.get("dockerBuildTarget") == target, source
        plans.append(ImageBuild(
            target=target, model=model, tag=tag_of(target, model),
            context=Path(assembly.directory) / source["directory"],
            build_args=dict(source.get("dockerBuildArgs") or {}),
            build_contexts=dict(source.get("dockerBuildContexts") or {}),
            platform=source.get("platform", "linux/amd64"), asset_hash=assets[(target, model)]))
    return plans


def build_images(engine, plans: list[ImageBuild], *, rebuild: bool = False) -> dict[str, float]:
    """Build each planned image unless one with its asset hash exists; seconds per built tag."""
    engine.prepare(REPO)
    seconds = {}
    for item in plans:
        labels = engine.labels(item.tag)
        if not rebuild and labels is not None and labels.get(HASH_LABEL) == item.asset_hash:
            print(f"{item.tag}: up to date (asset {item.asset_hash[:12]})", flush=True)
            continue
        print(f"{item.tag}: building target {item.target} ({item.model} model, asset {item.asset_hash[:12]}, "
              f"build args {item.build_args}, contexts {list(item.build_contexts)})", flush=True)
        start = time.monotonic()
        engine.build(item.context, target=item.target, tag=item.tag, build_args=item.build_args,
                     build_contexts=item.build_contexts, labels={HASH_LABEL: item.asset_hash},
                     platform=item.platform)
        seconds[item.tag] = round(time.monotonic() - start, 1)
        print(f"{item.tag}: built in {seconds[item.tag]} s, {engine.size(item.tag) / 2**20:.0f} MiB", flush=True)
    return seconds


def main(argv: list[str] | None = None) -> None:
    from .engines import engine_for

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=("buildah", "docker"), help="default: IMAGE_ENGINE, else docker if it runs")
    parser.add_argument("--only", nargs="+", metavar="TAG_OR_TARGET",
                        help="build only these (server, server-tiny, lambda, ...)")
    parser.add_argument("--rebuild", action="store_true", help="build even when the asset hash is built")
    parser.add_argument("--clean", action="store_true", help="remove the images this builds, and their build cache")
    args = parser.parse_args(argv)
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    engine = engine_for(args.engine, WORK_DIR)
    if args.clean:
        for target, model in BUILDS:
            engine.remove_image(tag_of(target, model))
        engine.prune()
        return
    plans = plan(BUILDS, model_dirs(), WORK_DIR / "cdk.out")
    if args.only:
        plans = [p for p in plans if p.target in args.only or p.tag.split(":")[1] in args.only]
    start = time.monotonic()
    build_images(engine, plans, rebuild=args.rebuild)
    print(f"make image: {time.monotonic() - start:.0f} s with {engine.name}")


if __name__ == "__main__":
    main()
