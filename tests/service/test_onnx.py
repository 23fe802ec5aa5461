"""The ONNX Runtime backend: export round trip on the tiny model, backend selection by what
MODEL_DIR holds, serving without torch, and thread counts from cgroup CPU limits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from inference import export as exporter
from inference.app.backends import cpus as cpus_module
from inference.app.backends import detect_backend, load_classifier
from inference.app.backends.cpus import available_cpus, cgroup_cpu_quota
from inference.app.backends.onnx import OnnxClassifier
from inference.app.backends.pytorch import TransformersClassifier
from inference.app.main import create_app
from inference.app.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def onnx_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("onnx-fp32")
    exporter.export(tiny_model_dir, out, samples=16, log=lambda _: None)
    return out


@pytest.fixture(scope="session")
def onnx_int8_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("onnx-int8")
    exporter.main([str(tiny_model_dir), str(out), "--int8", "--samples", "16"])
    return out


def test_export_writes_a_servable_directory_close_to_pytorch(onnx_dir: Path):
    names = {p.name for p in onnx_dir.iterdir()}
    assert {"model.onnx", "tokenizer.json", "config.json", "model_info.json", "onnx_export.json"} <= names
    assert not any(name.endswith((".safetensors", ".bin")) for name in names), "no PyTorch weights"
    report = json.loads((onnx_dir / "onnx_export.json").read_text())
    assert report["precision"] == "fp32" and report["fused_operators"].get("Attention") == 2
    assert report["check"]["max_logit_diff"] < 1e-3 and report["check"]["argmax_agreement"] == 1.0
    assert json.loads((onnx_dir / "model_info.json").read_text())["model_version"] == "tiny-random-untrained"


def test_onnx_answers_equal_pytorch(onnx_dir: Path, classifier: TransformersClassifier, varied_texts):
    onnx = OnnxClassifier(onnx_dir)
    texts = varied_texts(12) + ["word " * 500, "ünïcödé ✓ 😀 text"]  # one truncated at 64 tokens
    for mine, reference in zip(onnx.predict(texts), classifier.predict(texts), strict=True):
        assert mine.label == reference.label and mine.truncated == reference.truncated
        assert mine.confidence == pytest.approx(reference.confidence, abs=1e-4)
    assert onnx.predict(["word " * 500])[0].truncated
    assert onnx.labels == ["NEGATIVE", "POSITIVE"] and onnx.max_length == 64


def test_int8_export_reports_its_agreement(onnx_int8_dir: Path, onnx_dir: Path):
    report = json.loads((onnx_int8_dir / "onnx_export.json").read_text())
    assert report["precision"] == "int8"
    check = report["check"]
    # Reported, not required to be perfect: int8 trades a little accuracy for speed. The tiny
    # model's weights are far wider than a trained model's, the worst case for quantization.
    print(f"int8 tiny model: argmax agreement {check['argmax_agreement']:.2%}, "
          f"max logit difference {check['max_logit_diff']:.3f}")
    assert 0.7 <= check["argmax_agreement"] <= 1.0
    assert (onnx_int8_dir / "model.onnx").stat().st_size < (onnx_dir / "model.onnx").stat().st_size
    info = json.loads((onnx_int8_dir / "model_info.json").read_text())
    assert info["model_version"] == "tiny-random-untrained+int8" and info["untrained"] is True
    assert OnnxClassifier(onnx_int8_dir).precision == "int8"


def test_export_refuses_bad_arguments(tiny_model_dir: Path, tmp_path: Path):
    with pytest.raises(SystemExit, match="no config.json"):
        exporter.export(tmp_path, tmp_path / "out")
    with pytest.raises(SystemExit, match="contradict"):
        exporter.main([str(tiny_model_dir), str(tmp_path / "x"), "--int8", "--precision", "fp32"])
    with pytest.raises(SystemExit, match="must differ"):
        exporter.export(tiny_model_dir, tiny_model_dir)


def test_backend_follows_what_model_dir_holds(onnx_dir: Path, tiny_model_dir: Path):
    assert detect_backend(onnx_dir) == "onnx" and detect_backend(tiny_model_dir) == "pytorch"
    assert isinstance(load_classifier(Settings(model_dir=onnx_dir)), OnnxClassifier)
    assert isinstance(load_classifier(Settings(model_dir=tiny_model_dir)), TransformersClassifier)
    with pytest.raises(ValueError, match="has no model.onnx"):
        load_classifier(Settings(model_dir=tiny_model_dir, backend="onnx"))


def test_the_app_serves_an_exported_directory(onnx_dir: Path, classifier: TransformersClassifier):
    app = create_app(Settings(model_dir=onnx_dir, platform="test", emf_metrics=False), load_on_startup=False)
    app.state.service.load()
    assert app.state.service.classifier.backend == "onnx" and app.state.service.batcher is not None
    with TestClient(app) as client:
        answer = client.post("/predict", json={"text": "I loved this movie!"}).json()
        batch = client.post("/predict/batch", json={"texts": ["good", "word " * 300]}).json()["predictions"]
    expected = classifier.predict(["I loved this movie!"])[0]
    assert answer["label"] == expected.label and answer["model_version"] == "tiny-random-untrained"
    assert [p["truncated"] for p in batch] == [False, True]


def test_serving_onnx_imports_neither_torch_nor_transformers(onnx_dir: Path):
    code = (
        "import sys\n"
        "from inference.app.main import create_app\n"
        "from inference.app.settings import Settings\n"
        f"app = create_app(Settings(model_dir={str(onnx_dir)!r}, emf_metrics=False), load_on_startup=False)\n"
        "app.state.service.load()\n"
        "loaded = sorted(m for m in ('torch', 'transformers', 'onnx') if m in sys.modules)\n"
        "assert not loaded, loaded\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]


# ---------------------------------------------------------------- CPUs from cgroup limits


def _cgroup(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


@pytest.mark.parametrize(
    ("files", "quota"),
    [
        ({"cpu.max": "max 100000\n"}, None),
        ({"cpu.max": "200000 100000\n"}, 2.0),
        ({"cpu.max": "50000 100000\n"}, 0.5),
        ({"cpu/cpu.cfs_quota_us": "300000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 3.0),
        ({"cpu,cpuacct/cpu.cfs_quota_us": "-1\n", "cpu,cpuacct/cpu.cfs_period_us": "100000\n"}, None),
        ({}, None),
    ],
    ids=["v2-unlimited", "v2-two", "v2-half", "v1-three", "v1-unlimited", "none"],
)
def test_cgroup_cpu_quota(tmp_path, files, quota):
    assert cgroup_cpu_quota(_cgroup(tmp_path, files)) == quota


def test_threads_follow_the_quota_not_the_host(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)), raising=False)
    assert available_cpus(_cgroup(tmp_path / "a", {"cpu.max": "200000 100000"})) == 2
    assert available_cpus(_cgroup(tmp_path / "b", {"cpu.max": "150000 100000"})) == 1  # rounded down
    assert available_cpus(_cgroup(tmp_path / "c", {"cpu.max": "25000 100000"})) == 1  # at least one
    assert available_cpus(_cgroup(tmp_path / "d", {"cpu.max": "max 100000"})) == 16
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert available_cpus(_cgroup(tmp_path / "e", {"cpu.max": "800000 100000"})) == 2


def test_onnx_session_threads_come_from_available_cpus(onnx_dir: Path, monkeypatch):
    from inference.app.backends import onnx as onnx_backend

    monkeypatch.setattr(onnx_backend, "available_cpus", lambda: 1)
    assert OnnxClassifier(onnx_dir).num_threads == 1
    assert OnnxClassifier(onnx_dir, num_threads=3).num_threads == 3
    assert cpus_module.available_cpus() >= 1
