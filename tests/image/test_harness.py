"""The pieces of `make image` / `make image-test` that need no image: what is built with which
args, pip's configuration inside a build, what is dropped from the served venv, the report."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from image import report
from image.build import HASH_LABEL, build_images, plan, tag_of
from image.pip_mounts import effective_config, pip_mounts, referenced_paths, rewrite

REPO = Path(__file__).resolve().parents[2]

LISTING = """global.cert='/etc/ssl/certs/ca-certificates.crt'
global.extra-index-url='file:///opt/pypi/simple file:///opt/more/simple https://example.org/simple'
global.find-links='/opt/wheels'
:env:.find-links='/opt/wheels-env'
:env:.default-timeout='180'
user.unrelated='x'
"""


def test_the_environment_wins_over_pip_config_files():
    config = effective_config(LISTING)
    assert config == {"cert": "/etc/ssl/certs/ca-certificates.crt", "default-timeout": "180",
                      "extra-index-url": "file:///opt/pypi/simple file:///opt/more/simple https://example.org/simple",
                      "find-links": "/opt/wheels-env"}


def test_local_paths_are_mounted_under_the_build_home_and_rewritten(tmp_path):
    index = tmp_path / "pypi" / "simple"
    index.mkdir(parents=True)
    (tmp_path / "pypi" / "files").mkdir()
    cert = tmp_path / "ca.crt"
    cert.write_text("pem")
    listing = f"global.cert='{cert}'\nglobal.extra-index-url='file://{index} https://pypi.org/simple'\n"
    config = effective_config(listing)
    # An index's parent goes along: its pages link ../../files/.
    assert referenced_paths(config) == sorted([cert, tmp_path / "pypi"])
    moved = rewrite(config, referenced_paths(config))
    assert moved["cert"] == f"/root/.host{cert}"
    assert moved["extra-index-url"] == f"file:///root/.host{index} https://pypi.org/simple"
    mounts = pip_mounts(tmp_path / "work", listing)
    home = tmp_path / "work" / "build-home"
    assert mounts[0] == (str(home), "/root")
    assert (str(cert), f"/root/.host{cert}") in mounts
    # The mount points exist in our own folder, so buildah makes nothing in the image.
    assert (home / ".host" / cert.relative_to("/")).is_file()
    assert (home / ".host" / (tmp_path / "pypi").relative_to("/")).is_dir()
    assert f"cert = /root/.host{cert}" in (home / ".config" / "pip" / "pip.conf").read_text()


def _drop_unused():
    spec = importlib.util.spec_from_file_location("drop_unused", REPO / "inference" / "docker" / "drop_unused.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeDist:
    def __init__(self, requires: list[str], requested: bool = False) -> None:
        self.requires, self._requested = requires, requested

    def read_text(self, name: str):
        return "" if name == "REQUESTED" and self._requested else None


def test_only_what_the_dropped_distribution_alone_needs_goes():
    module = _drop_unused()
    dists = {
        "tokenizers": FakeDist(["huggingface-hub>=0.16"], requested=True),
        "huggingface-hub": FakeDist(["filelock", "pyyaml>=5", "packaging", 'tqdm; extra == "cli"']),
        "onnxruntime": FakeDist(["packaging", "numpy>=1.2; python_version >= '3.9'"], requested=True),
        "filelock": FakeDist([]), "pyyaml": FakeDist([]), "packaging": FakeDist([]), "numpy": FakeDist([]),
        "tqdm": FakeDist([]),  # only an extra of the dropped one asked for it: unused anyway
    }
    assert module.unused(dists, {"huggingface-hub"}) == ["filelock", "huggingface-hub", "pyyaml", "tqdm"]


def test_with_a_hashed_lock_the_roots_come_from_the_requirements_file(tmp_path):
    # pip install --no-deps -r LOCK marks every distribution REQUESTED: the markers say nothing then.
    module = _drop_unused()
    dists = {
        "tokenizers": FakeDist(["huggingface-hub>=0.16"], requested=True),
        "huggingface-hub": FakeDist(["hf-xet; platform_machine == 'x86_64'", "pyyaml"], requested=True),
        "hf-xet": FakeDist([], requested=True), "pyyaml": FakeDist([], requested=True),
    }
    assert module.unused(dists, {"huggingface-hub"}) == ["huggingface-hub"]
    (tmp_path / "requirements.txt").write_text("# the service\ntokenizers==0.23.3  # tokenizer.json\n-c constraints.txt\n")
    roots = module.requirement_file_names(tmp_path / "requirements.txt")
    assert roots == {"tokenizers"}
    assert module.unused(dists, {"huggingface-hub"}, roots) == ["hf-xet", "huggingface-hub", "pyyaml"]


def test_drop_unused_refuses_a_name_that_is_not_installed(tmp_path):
    (tmp_path / "lib" / "python3.11" / "site-packages").mkdir(parents=True)
    with pytest.raises(SystemExit, match="not installed"):
        _drop_unused().main([str(tmp_path), "huggingface-hub"])


@pytest.mark.parametrize(("path", "group"), [
    ("/venv/lib/python3.11/site-packages/onnxruntime/capi/x.so", "/venv/lib/python3.11/site-packages/onnxruntime"),
    ("/venv/lib/python3.11/site-packages/numpy.libs/libopenblas.so", "/venv/lib/python3.11/site-packages/numpy"),
    ("/venv/lib/python3.11/site-packages/numpy-2.4.6.dist-info/RECORD", "/venv/lib/python3.11/site-packages/numpy"),
    ("/venv/lib/python3.11/site-packages/typing_extensions.py",
     "/venv/lib/python3.11/site-packages/typing_extensions"),
    ("/opt/ml/model/model.onnx", "/opt/ml/model/model.onnx"),
    ("/usr/local/lib/python3.11/json/decoder.py", "/usr/local/lib/python3.11 (standard library)"),
    ("/usr/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu"),
    ("/etc/passwd", "/etc"),
])
def test_files_are_grouped_by_what_they_belong_to(path, group):
    assert report.group_of(path) == group


def test_contributors_are_the_largest_groups_first():
    files = [("/opt/ml/model/model.onnx", 300), ("/venv/lib/python3.11/site-packages/numpy/a.so", 100),
             ("/venv/lib/python3.11/site-packages/numpy.libs/b.so", 150), ("/etc/x", 1)]
    largest = report.contributors(files, top=2)
    assert [(g["path"], g["bytes"]) for g in largest] == [
        ("/opt/ml/model/model.onnx", 300), ("/venv/lib/python3.11/site-packages/numpy", 250)]


def test_the_report_measures_goals_and_says_when_one_is_missed():
    data = report.build_report(
        engine="buildah", driver="overlay",
        sizes={"ml-inference:server": 500 * report.MIB, "ml-inference:lambda": 900 * report.MIB},
        cold_starts=[2.0, 3.0, 2.2], lambda_inits=[1.5], largest={}, shared_layers={"layers": 9, "of": 10},
        checks={"a": {"passed": True}, "b": {"passed": False, "detail": "x"}}, seconds={}, gpu=None)
    assert data["server_bytes"] == 500 * report.MIB and data["server_cold_start_s"] == 2.2
    assert data["goals"]["server_bytes"]["met"] and data["goals"]["server_cold_start_s"]["met"]
    assert not data["goals"]["lambda_bytes"]["met"]
    text = report.summary(data)
    assert "NOT MET" in text and "1 passed, 1 failed: b" in text
    json.dumps(data)  # it is written as JSON


def test_images_are_built_with_exactly_what_modelimage_puts_in_the_asset_manifest(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "model.safetensors").write_bytes(b"weights")
    builds = (("server", "m"), ("lambda", "m"))
    plans = plan(builds, {"m": model}, tmp_path / "cdk.out")
    manifest = json.loads((tmp_path / "cdk.out" / "ImageBuild.assets.json").read_text())
    sources = {entry["source"]["dockerBuildTarget"]: entry["source"] for entry in manifest["dockerImages"].values()}
    for item in plans:
        source = sources[item.target]
        assert item.build_args == source["dockerBuildArgs"] == {"MODEL_SOURCE": "local"}
        assert item.build_contexts == source["dockerBuildContexts"] == {"model-local": str(model.resolve())}
        assert item.context == tmp_path / "cdk.out" / source["directory"] and (item.context / "Dockerfile").is_file()
        assert item.platform == source["platform"] == "linux/amd64"
        assert item.tag == tag_of(item.target, "m") == f"ml-inference:{item.target}-m"

    class Engine:
        """Records builds; the server image is already built with its asset hash."""
        name, built = "fake", []

        def prepare(self, repo):
            pass

        def labels(self, tag):
            return {HASH_LABEL: plans[0].asset_hash} if tag == plans[0].tag else None

        def build(self, context, **kwargs):
            self.built.append(kwargs["tag"])

        def size(self, tag):
            return 1

    engine = Engine()
    build_images(engine, plans)
    assert engine.built == [plans[1].tag]
