"""Real (tiny, offline) training runs: ``make train-smoke`` and a SageMaker-style job.

The model is a random 2-layer, 32-wide DistilBERT and the data are generated two-word-sentiment
sentences: the accuracy checked here says the pipeline works, nothing about model quality.
"""

from __future__ import annotations

import json
import stat

from inference.app.backends.pytorch import TransformersClassifier
from tests.conftest import REPO
from tests.training.support import SMOKE_STEPS
from training.smoke import SMOKE_TEXT, write_dataset
from training.train import main as train_main


def test_smoke_trains_and_the_service_serves_the_result(smoke):
    assert smoke.metrics["train_steps"] == SMOKE_STEPS
    assert smoke.metrics["accuracy"] >= 0.9 and smoke.metrics["f1"] >= 0.9, smoke.metrics
    assert smoke.prediction["sentiment"] == "POSITIVE"
    assert smoke.prediction["model_version"] == smoke.metrics["model_version"]
    assert smoke.prediction["model_version"].startswith("base-model-finetuned-train@")


def test_the_model_directory_is_what_the_service_and_the_image_take(smoke):
    model_dir = smoke.model_dir
    config = json.loads((model_dir / "config.json").read_text())
    assert config["id2label"] == {"0": "NEGATIVE", "1": "POSITIVE"}
    assert config["label2id"] == {"NEGATIVE": 0, "POSITIVE": 1}
    assert json.loads((model_dir / "model_info.json").read_text()) == {
        "model_version": smoke.metrics["model_version"], "untrained": False}
    assert {"model.safetensors", "tokenizer.json", "tokenizer_config.json", "training_info.json"} <= {
        p.name for p in model_dir.iterdir()}
    # Without --output-data-dir the metrics sit beside the model.
    assert json.loads((model_dir / "metrics.json").read_text()) == smoke.metrics
    info = json.loads((model_dir / "training_info.json").read_text())
    assert info["hyperparameters"]["max_steps"] == SMOKE_STEPS and info["data"]["train_samples"] == 256
    # The image copies the folder as is and serves as a non-root user.
    for path in model_dir.iterdir():
        assert path.stat().st_mode & stat.S_IROTH, path
    assert not any(p.name.startswith("checkpoint") for p in model_dir.iterdir())

    classifier = TransformersClassifier(model_dir, num_threads=1)
    assert classifier.labels == ["NEGATIVE", "POSITIVE"] and not classifier.untrained
    [negative, positive] = classifier.predict(["Hated it, a terrible and boring film.", SMOKE_TEXT])
    assert (negative.label, positive.label) == ("NEGATIVE", "POSITIVE")


def test_model_image_takes_the_model_directory(smoke):
    import aws_cdk as cdk

    from ml_inference_cdk import ModelImage

    stack = cdk.Stack(cdk.App(), "Test")
    image = ModelImage(stack, "Image", directory=str(REPO / "inference"), model_directory=str(smoke.model_dir))
    assert image.build_args == {"MODEL_SOURCE": "local"}


def test_runs_unchanged_as_a_sagemaker_training_job(smoke, tmp_path):
    """The job's layout: channels and output folders from SM_* variables, hyperparameters from
    SM_HPS and (the same, as SageMaker does) the command line."""
    train_file, eval_file = write_dataset(tmp_path / "data", train_rows=32, eval_rows=16)
    channels = {"train": train_file, "test": eval_file}
    for name, file in channels.items():
        (tmp_path / "input" / name).mkdir(parents=True)
        file.rename(tmp_path / "input" / name / file.name)
    (tmp_path / "model").mkdir()  # SageMaker creates it, empty
    environ = {
        "SM_CHANNEL_TRAIN": str(tmp_path / "input" / "train"),
        "SM_CHANNEL_TEST": str(tmp_path / "input" / "test"),
        "SM_MODEL_DIR": str(tmp_path / "model"),
        "SM_OUTPUT_DATA_DIR": str(tmp_path / "output"),
    }
    hyperparameters = {"model_name_or_path": str(smoke.model_dir.parent / "base-model"), "max_steps": 3,
                       "batch_size": 8, "max_length": 32, "device": "cpu"}
    environ["SM_HPS"] = json.dumps(hyperparameters)
    argv = [item for key, value in hyperparameters.items() for item in (f"--{key}", str(value))]

    metrics = train_main(argv, environ=environ, hyperparameters_file=tmp_path / "absent.json")

    assert metrics["train_steps"] == 3 and metrics["eval_samples"] == 16 and metrics["train_samples"] == 32
    assert json.loads((tmp_path / "output" / "metrics.json").read_text()) == metrics
    model_dir = tmp_path / "model"
    assert not (model_dir / "metrics.json").exists()
    assert TransformersClassifier(model_dir, num_threads=1).predict([SMOKE_TEXT])[0].label in ("NEGATIVE", "POSITIVE")


def test_the_image_build_exports_it_to_onnx_and_serves_it(smoke, tmp_path):
    """What the image's `export` stage does with a local model (`MODEL_SOURCE=local`), then the
    service on the exported model, as the serving stages run it."""
    from fastapi.testclient import TestClient

    from inference import export
    from inference.app.main import create_app
    from inference.app.settings import Settings

    onnx_dir = tmp_path / "model-onnx"
    assert export.main([str(smoke.model_dir), str(onnx_dir), "--samples", "4"]) == 0
    app = create_app(Settings(model_dir=onnx_dir, platform="test", emf_metrics=False), load_on_startup=False)
    app.state.service.load()
    with TestClient(app) as client:
        response = client.post("/predict/batch", json={"texts": ["Hated it, a terrible and boring film.", SMOKE_TEXT]})
    assert response.status_code == 200, response.text
    assert [p["sentiment"] for p in response.json()["predictions"]] == ["NEGATIVE", "POSITIVE"]
    assert response.json()["predictions"][0]["model_version"] == smoke.metrics["model_version"]
