"""What can be checked of the image without a Docker engine: the Dockerfile (hadolint, its
interface, that everything it COPYs exists and is not .dockerignored), the entrypoint script and
the HEALTHCHECK command."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

INFERENCE = Path(__file__).resolve().parents[2] / "inference"
DOCKERFILE = INFERENCE / "Dockerfile"
SERVE = INFERENCE / "docker" / "serve"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    logical, current = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        if line.lstrip().startswith("#") and not current:
            continue
        if line.lstrip().startswith("#"):
            continue  # a comment inside a continued instruction
        current += line.rstrip("\\").strip() + " " if line.rstrip().endswith("\\") else line.strip()
        if not line.rstrip().endswith("\\"):
            if current.strip():
                logical.append(current.strip())
            current = ""
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1] if " " in text else "") for text in logical]


def stages() -> dict[str, list[tuple[str, str]]]:
    """Stage name -> its instructions (FROM included)."""
    result: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for instruction, args in instructions():
        if instruction == "FROM":
            name = args.split()[-1] if " AS " in args.upper() else f"stage{len(result)}"
            current = result.setdefault(name, [])
        if current is not None:
            current.append((instruction, args))
    return result


def test_hadolint_passes():
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run([str(hadolint), str(DOCKERFILE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def copy_sources() -> list[str]:
    sources = []
    for instruction, args in instructions():
        if instruction != "COPY" or "--from=" in args:
            continue
        words = [w for w in shlex.split(args) if not w.startswith("--")]
        sources += words[:-1]
    return sources


def test_every_copied_file_exists_in_the_build_context():
    sources = copy_sources()
    assert {"requirements.lock", "requirements-serve.lock", "app/", "docker/serve", "docker/fetch_model.py",
            "__init__.py", "export.py"} <= set(sources)
    for source in sources:
        assert (INFERENCE / source).exists(), f"COPY {source}: no such file in inference/"


def dockerignored(path: str) -> bool:
    """Docker's rule: the last pattern that matches the path or one of its parents decides."""
    ignored = False
    for raw in (INFERENCE / ".dockerignore").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = line.lstrip("!").strip("/")
        regex = re.escape(pattern).replace(r"\*\*/", "(?:.*/)?").replace(r"\*\*", ".*").replace(r"\*", "[^/]*")
        parts = path.split("/")
        if any(re.fullmatch(regex, "/".join(parts[: i + 1])) for i in range(len(parts))):
            ignored = not negated
    return ignored


def test_dockerignore_keeps_what_the_dockerfile_copies_and_drops_the_rest():
    for source in copy_sources():
        files = [p for p in (INFERENCE / source).rglob("*") if p.is_file()] if source.endswith("/") else [INFERENCE / source]
        for file in files:
            relative = file.relative_to(INFERENCE).as_posix()
            if "__pycache__" not in relative:
                assert not dockerignored(relative), f"{relative} is copied but .dockerignored"
    assert dockerignored("app/__pycache__/main.cpython-312.pyc")
    assert dockerignored("README.md") and dockerignored("events/alb.json")


def lineage(stage: str) -> list[tuple[str, str]]:
    """The instructions of ``stage`` and of the stages it is built FROM, base first."""
    all_stages = stages()
    parent = all_stages[stage][0][1].split()[0]
    return (lineage(parent) if parent in all_stages else []) + all_stages[stage]


def body_of(stage: str) -> str:
    return " ".join(f"{i} {a}" for i, a in lineage(stage))


def test_the_build_interface_the_cdk_relies_on():
    text = DOCKERFILE.read_text()
    all_stages = stages()
    assert {"model-from-local", "model-from-hub", "fetch", "model", "export", "server", "lambda", "server-pytorch",
            "server-gpu"} <= set(all_stages)
    assert re.search(r"^ARG MODEL_SOURCE=hub$", text, re.M), "MODEL_SOURCE defaults to hub, declared before any FROM"
    assert text.index("ARG MODEL_SOURCE") < text.index("FROM ")
    assert all_stages["model-files"][0] == ("FROM", "model-from-${MODEL_SOURCE} AS model-files")
    # Every target reads the model from one stage that checks it and makes it readable by all
    # (save_pretrained writes model.safetensors 0600; the targets run as non-root users).
    model = " ".join(args for instruction, args in all_stages["model"] if instruction == "RUN")
    assert "test -f /model/config.json" in model and "chmod -R a+rX /model" in model
    # The named build context is read with COPY --from, the form BuildKit and buildah read alike; a
    # stage of its name would shadow the directory under buildah (an empty model).
    assert "model-local" not in all_stages
    assert all_stages["model-from-local"] == [("FROM", "scratch AS model-from-local"), ("COPY", "--from=model-local / /")]
    assert ("ARG", "MODEL_ID=distilbert-base-uncased-finetuned-sst-2-english") in all_stages["fetch"]
    # By-hand builds get the same pinned revision as ModelImage's default.
    from ml_inference_cdk.constructs.model_image import DEFAULT_MODEL_REVISION

    assert ("ARG", f"MODEL_REVISION={DEFAULT_MODEL_REVISION}") in all_stages["fetch"]
    for target in ("server", "lambda", "server-pytorch", "server-gpu"):
        body = body_of(target)
        assert "MODEL_DIR=/opt/ml/model" in body
        # server and lambda serve the exported ONNX model; the PyTorch targets the Hugging Face one.
        source = "--from=export /model-onnx/ " if target in ("server", "lambda") else "--from=model /model/ "
        assert f"COPY {source}/opt/ml/model/" in body
        assert "PLATFORM=" in body
    # PRECISION is global (declared before any FROM) and reaches the export.
    assert re.search(r"^ARG PRECISION=fp32$", text, re.M) and text.index("ARG PRECISION") < text.index("FROM ")
    export = " ".join(f"{i} {a}" for i, a in all_stages["export"])
    assert "ARG PRECISION" in export and 'python -m inference.export /model-hf /model-onnx --precision "$PRECISION"' in export
    for target in ("server", "server-pytorch", "server-gpu"):
        server = dict(lineage(target))
        assert server["EXPOSE"] == "8080" and "PORT=8080" in body_of(target)
        assert server["USER"] == "10001:10001"
        assert server["ENTRYPOINT"] == '["serve"]'
        assert "HEALTHCHECK" in server
    # Lambda: the server's layers, run by AWS's runtime interface client; the CMD names a module
    # that exists where the Dockerfile puts the package.
    assert all_stages["lambda"][0] == ("FROM", "runtime AS lambda") and all_stages["server"][0] == ("FROM", "runtime AS server")
    assert dict(all_stages["lambda"])["ENTRYPOINT"] == '["python", "-m", "awslambdaric"]'
    cmd = dict(all_stages["lambda"])["CMD"]
    module, attribute = cmd.strip('[]"').rsplit(".", 1)
    assert (INFERENCE.parent / (module.replace(".", "/") + ".py")).is_file() and attribute == "handler"


def test_every_stage_runs_the_python_the_tests_run():
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    froms = {args.split()[0] for instruction, args in instructions() if instruction == "FROM"}
    assert froms - set(stages()) - {"scratch"} == {"${PYTHON_IMAGE}", "model-from-${MODEL_SOURCE}"}
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)@sha256:[0-9a-f]{64}$", DOCKERFILE.read_text(), re.M)
    assert base and base.group(1) == f"python:{version}-slim-bookworm", "one base image: the Python of the tests"
    assert set(re.findall(r"/lib/python(3\.\d+)/", DOCKERFILE.read_text())) == {version}


def _requirements(name: str) -> list[str]:
    return [line for line in (INFERENCE / name).read_text().splitlines() if line.strip() and not line.startswith("#")]


def test_torch_comes_from_the_cpu_index_at_the_pinned_version():
    requirements = _requirements("requirements.txt")
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[0-9][0-9A-Za-z.]*", line) for line in requirements), requirements
    assert "torch==2.13.0" in requirements
    all_stages = stages()
    runs = " ".join(args for instruction, args in all_stages["export-deps"] if instruction == "RUN")
    torch_install, rest = runs.split("&&")[1:3]
    assert '--index-url "$TORCH_INDEX"' in torch_install and "-r /tmp/requirements-torch-cpu.lock" in torch_install
    assert ("ARG", "TORCH_INDEX=https://download.pytorch.org/whl/cpu") in all_stages["export-deps"]
    assert "-r /tmp/requirements.lock" in rest and "index-url" not in rest
    assert "torch==2.13.0+cpu " in (INFERENCE / "requirements-torch-cpu.lock").read_text()


def test_the_gpu_image_pins_what_the_cpu_images_pin_but_a_cuda_torch():
    gpu = dict(line.split("==") for line in _requirements("requirements-gpu.txt"))
    everything = dict(line.split("==") for line in _requirements("requirements.txt"))
    assert gpu.pop("torch") != everything["torch"]  # the CUDA build of a release PyPI has (CUDA 13)
    assert gpu.items() <= everything.items() and not {"onnx", "onnxruntime", "mangum"} & set(gpu)
    runs = " ".join(args for instruction, args in stages()["gpu-deps"] if instruction == "RUN")
    assert "torch.version.cuda or sys.exit" in runs, "the build fails if pip picked a CPU torch"
    assert "NVIDIA_VISIBLE_DEVICES=all" in body_of("server-gpu")


def test_the_served_venvs_carry_no_pip_and_the_serving_stages_install_neither_torch_nor_transformers():
    serve = _requirements("requirements-serve.txt")
    everything = set(_requirements("requirements.txt"))
    assert set(serve) <= everything, "requirements-serve.txt pins must equal requirements.txt's"
    names = {line.split("==")[0].lower() for line in serve}
    assert {"onnxruntime", "tokenizers", "fastapi", "uvicorn", "mangum"} <= names
    assert not names & {"torch", "transformers", "onnx", "safetensors"}
    body = " ".join(f"{i} {a}" for i, a in stages()["server-deps"])
    assert "-r /tmp/requirements-serve.lock" in body and "torch" not in body
    assert "drop_unused.py /venv huggingface-hub" in body
    lambda_deps = " ".join(f"{i} {a}" for i, a in stages()["lambda-deps"])
    assert "--no-deps --target /ric -r /tmp/requirements-lambda.lock" in lambda_deps
    assert all(re.fullmatch(r"[a-z0-9-]+==[0-9.]+", line) for line in _requirements("requirements-lambda.txt"))
    copies = {stage: {a.split()[0] for i, a in stages()[stage] if i == "COPY" and "--from=" in a}
              for stage in ("runtime", "lambda")}
    assert copies == {"runtime": {"--from=server-deps", "--from=export"}, "lambda": {"--from=lambda-deps"}}
    for stage in ("export-deps", "server-deps", "gpu-deps"):
        runs = " ".join(args for instruction, args in stages()[stage] if instruction == "RUN")
        assert runs.startswith("python -m venv --without-pip /venv") and "/venv/bin/pip" not in runs


def test_the_fetch_stage_pins_the_huggingface_hub_the_service_is_tested_with():
    import huggingface_hub

    assert _requirements("requirements-fetch.txt") == [f"huggingface_hub=={huggingface_hub.__version__}"]
    assert f"\nhuggingface-hub=={huggingface_hub.__version__} \\\n" in (INFERENCE / "requirements-fetch.lock").read_text()
    assert "-r /tmp/requirements-fetch.lock" in body_of("fetch")


# ---------------------------------------------------------------- the serve entrypoint


@pytest.fixture
def fake_python(tmp_path) -> dict[str, str]:
    """A PATH whose `python` prints its arguments and PORT: what `serve` would exec."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "python"
    fake.write_text('#!/bin/sh\necho "python $* PORT=$PORT"\n')
    fake.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("PORT", "HOST", "SAGEMAKER_BIND_TO_PORT")}
    return {**env, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


@pytest.mark.parametrize("args", [[], ["serve"]])
def test_serve_and_no_arguments_start_the_server_on_8080(fake_python, args):
    out = subprocess.run([str(SERVE), *args], env=fake_python, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["python", "-m", "inference.app.server", "PORT=8080"]


def test_serve_honours_port_settings(fake_python):
    env = {**fake_python, "SAGEMAKER_BIND_TO_PORT": "9090"}
    out = subprocess.run([str(SERVE), "serve"], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["python", "-m", "inference.app.server", "PORT=9090"]
    out = subprocess.run([str(SERVE)], env={**env, "PORT": "7000"}, capture_output=True, text=True, check=True).stdout
    assert "PORT=7000" in out


def test_the_server_takes_no_arguments():
    """Its settings come from the environment; an argument meant for uvicorn fails loudly."""
    result = subprocess.run([sys.executable, "-m", "inference.app.server", "--log-level", "debug"],
                            capture_output=True, text=True, cwd=INFERENCE.parent, timeout=60)
    assert result.returncode == 2 and "takes no arguments" in result.stderr


def test_other_commands_run_as_given():
    result = subprocess.run([str(SERVE), "sh", "-c", "echo passthrough; exit 3"], capture_output=True, text=True)
    assert (result.returncode, result.stdout) == (3, "passthrough\n")


def test_the_serve_script_serves_for_real(live_server):
    ping = httpx.get(f"{live_server}/ping")
    assert ping.status_code == 200 and ping.json()["platform"] == "test-live"
    answer = httpx.post(f"{live_server}/invocations", content=b"Lovely day", headers={"content-type": "text/plain"})
    assert answer.status_code == 200 and answer.json()["label"] in ("NEGATIVE", "POSITIVE")
    assert httpx.get(f"{live_server}/docs").status_code == 200


def test_body_limit_holds_without_content_length(live_server):
    def chunks():  # streamed: Transfer-Encoding chunked, no Content-Length
        yield b'{"text": "'
        for _ in range(300):
            yield b"a" * 8192
        yield b'"}'

    response = httpx.post(f"{live_server}/predict", content=chunks(), headers={"content-type": "application/json"},
                          timeout=30)
    assert response.status_code == 413 and response.json()["error"] == "body_too_large"
    assert httpx.get(f"{live_server}/ping").status_code == 200


def test_healthcheck_command(live_server):
    port = live_server.rsplit(":", 1)[1]
    command = [sys.executable, "-m", "inference.app.healthcheck"]
    cwd = INFERENCE.parent
    assert subprocess.run(command, env={**os.environ, "PORT": port}, cwd=cwd).returncode == 0
    closed = subprocess.run(command, env={**os.environ, "PORT": "1"}, cwd=cwd)
    assert closed.returncode == 1


# ---------------------------------------------------------------- the build-time model download


@pytest.fixture
def fetch_model(monkeypatch):
    """docker/fetch_model.py with the Hub replaced by a fake repository (no network)."""
    import importlib.util
    from types import SimpleNamespace

    spec = importlib.util.spec_from_file_location("fetch_model", INFERENCE / "docker" / "fetch_model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    calls = {}

    def run(repo_files: list[str], out: Path, revision: str = "main", extra_args: tuple[str, ...] = ()) -> dict:
        sha = "0123456789abcdef0123456789abcdef01234567"
        info = SimpleNamespace(sha=sha, siblings=[SimpleNamespace(rfilename=name) for name in repo_files])
        monkeypatch.setattr(module, "HfApi", lambda: SimpleNamespace(model_info=lambda repo, revision: info))

        def snapshot_download(repo_id, *, revision, local_dir, allow_patterns):
            import fnmatch

            calls.update(repo_id=repo_id, revision=revision, allow_patterns=allow_patterns)
            (Path(local_dir) / ".cache" / "huggingface").mkdir(parents=True)
            for name in repo_files:
                if any(fnmatch.fnmatch(name, pattern) for pattern in allow_patterns):
                    (Path(local_dir) / name).write_text("x")

        monkeypatch.setattr(module, "snapshot_download", snapshot_download)
        monkeypatch.setattr(sys, "argv", ["fetch_model.py", "--model-id", "org/model", "--revision", revision,
                                          "--out", str(out), *extra_args])
        module.main()
        return calls

    return run


HUB_FILES = ["config.json", "tokenizer_config.json", "vocab.txt", "model.safetensors", "pytorch_model.bin",
             "tf_model.h5", "rust_model.ot", "onnx/model.onnx", "README.md", "map.jpeg"]


def test_fetch_downloads_only_serving_files_at_the_resolved_commit(fetch_model, tmp_path):
    import json

    calls = fetch_model(HUB_FILES, tmp_path, revision="v1.0")
    assert calls["revision"] == "0123456789abcdef0123456789abcdef01234567"  # the tag, resolved to its commit
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["config.json", "model.safetensors", "model_info.json", "tokenizer_config.json", "vocab.txt"]
    info = json.loads((tmp_path / "model_info.json").read_text())
    assert info["model_version"] == "org/model@0123456789ab"


def test_fetch_fails_when_a_revision_has_only_pickled_weights(fetch_model, tmp_path, monkeypatch):
    monkeypatch.delenv("ALLOW_PICKLED_WEIGHTS", raising=False)
    with pytest.raises(SystemExit, match=r"only pickled pytorch_model\*.bin.*allow_pickled_weights=True"):
        fetch_model(["config.json", "vocab.txt", "pytorch_model.bin"], tmp_path / "bin")
    assert not (tmp_path / "bin").exists()
    with pytest.raises(SystemExit, match="no PyTorch weights"):
        fetch_model(["config.json", "tf_model.h5"], tmp_path / "none")


@pytest.mark.parametrize("opt_in", ["flag", "build-arg"])
def test_fetch_takes_pickled_weights_only_when_opted_in(fetch_model, tmp_path, monkeypatch, opt_in):
    monkeypatch.delenv("ALLOW_PICKLED_WEIGHTS", raising=False)
    if opt_in == "build-arg":
        monkeypatch.setenv("ALLOW_PICKLED_WEIGHTS", "1")  # the Dockerfile's ARG, as RUN sees it
    calls = fetch_model(["config.json", "vocab.txt", "pytorch_model.bin", "tf_model.h5"], tmp_path,
                        extra_args=("--allow-pickled-weights",) if opt_in == "flag" else ())
    assert (tmp_path / "pytorch_model.bin").is_file() and not (tmp_path / "tf_model.h5").exists()
    # A revision with safetensors gives those even when pickled weights are allowed.
    calls = fetch_model(HUB_FILES, tmp_path / "both", extra_args=("--allow-pickled-weights",))
    assert "pytorch_model*.bin" not in calls["allow_patterns"]


def test_the_image_refuses_pickled_weights_unless_the_build_opts_in():
    """The `model` stage every target reads checks for safetensors; the opt-in reaches each loader."""
    text = DOCKERFILE.read_text()
    assert re.search(r"^ARG ALLOW_PICKLED_WEIGHTS=0$", text, re.M) and text.index("ARG ALLOW_PICKLED_WEIGHTS") < text.index("FROM ")
    model = " ".join(args for instruction, args in stages()["model"] if instruction == "RUN")
    assert 'ls /model/*.safetensors' in model and '[ "$ALLOW_PICKLED_WEIGHTS" = 1 ]' in model
    for stage in ("fetch", "model", "export", "server-pytorch", "server-gpu"):
        assert ("ARG", "ALLOW_PICKLED_WEIGHTS") in stages()[stage], stage
    for target in ("server-pytorch", "server-gpu"):
        assert "ALLOW_PICKLED_WEIGHTS=$ALLOW_PICKLED_WEIGHTS" in body_of(target)
