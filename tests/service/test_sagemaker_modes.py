"""The payloads SageMaker sends the container in each mode of SageMakerEndpoint.

Real-time and serverless endpoints forward InvokeEndpoint's body and content type; async
endpoints read the input object from S3 and send it the same way, with the settings the
construct raises for large payloads; batch transform splits each input file by line and sends
one line per request (`BATCH_CONTENT_TYPE`), joining the answers line by line.
"""

from __future__ import annotations

import json

import pytest

from inference.app.settings import Settings
from ml_inference_cdk.constructs.sagemaker import BATCH_CONTENT_TYPE, async_environment

ASYNC_ENVIRONMENT = async_environment(max_concurrent_invocations=4)

# What the SageMaker runtime adds to every invocation.
SAGEMAKER_HEADERS = {
    "accept": "application/json",
    "x-amzn-sagemaker-custom-attributes": "trace=abc",
    "x-amzn-sagemaker-target-model": "",
}


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        ("application/json", json.dumps({"inputs": "What a great film"}), 1),
        ("application/json; charset=utf-8", json.dumps({"texts": ["good", "bad"]}), 2),
        ("text/plain", "What a great film", 1),
    ],
)
def test_real_time_and_serverless_invocations(client, content_type, body, expected):
    response = client.post("/invocations", content=body.encode(), headers={**SAGEMAKER_HEADERS, "content-type": content_type})
    assert response.status_code == 200
    answer = response.json()
    predictions = answer.get("predictions", [answer])
    assert len(predictions) == expected
    assert all(p["label"] and 0 <= p["confidence"] <= 1 for p in predictions)


def test_ping_is_what_sagemaker_polls(client):
    assert client.get("/ping").status_code == 200


def test_async_settings_are_real_settings(monkeypatch, tiny_model_dir):
    for name, value in ASYNC_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    settings = Settings(model_dir=tiny_model_dir)
    assert settings.max_batch_size == int(ASYNC_ENVIRONMENT["MAX_BATCH_SIZE"])
    assert settings.max_body_bytes == int(ASYNC_ENVIRONMENT["MAX_BODY_BYTES"])
    assert settings.queue_max_texts == 4 * settings.max_batch_size
    assert settings.queue_max_seconds == 0


def test_async_queue_takes_every_request_sagemaker_sends_at_once(make_app, varied_texts):
    # Four concurrent invocations of the largest batch: none may be refused with 503.
    import asyncio

    import httpx

    settings = {name.lower(): int(value) for name, value in ASYNC_ENVIRONMENT.items()}
    app = make_app(dynamic_batching=True, **settings)
    texts = varied_texts(int(ASYNC_ENVIRONMENT["MAX_BATCH_SIZE"]) // 8)

    async def run() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sagemaker", timeout=120) as client:
            responses = await asyncio.gather(
                *(client.post("/invocations", json={"inputs": texts}, headers=SAGEMAKER_HEADERS) for _ in range(4))
            )
        return [r.status_code for r in responses]

    assert asyncio.run(run()) == [200] * 4


def test_async_input_object_with_a_large_batch(make_app, varied_texts):
    from fastapi.testclient import TestClient

    app = make_app(
        max_batch_size=int(ASYNC_ENVIRONMENT["MAX_BATCH_SIZE"]), max_body_bytes=int(ASYNC_ENVIRONMENT["MAX_BODY_BYTES"])
    )
    texts = varied_texts(300)
    body = json.dumps({"inputs": texts}).encode()
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post("/invocations", content=body, headers={**SAGEMAKER_HEADERS, "content-type": "application/json"})
    assert response.status_code == 200
    assert len(response.json()["predictions"]) == len(texts)


def test_batch_transform_records_answer_one_line_each(client, varied_texts):
    # SplitType=Line, BatchStrategy=SingleRecord: one line per request; AssembleWith=Line joins
    # the answers with newlines, so an answer must never contain one.
    lines = varied_texts(5)
    answers = []
    for line in lines:
        response = client.post(
            "/invocations", content=line.encode(), headers={**SAGEMAKER_HEADERS, "content-type": BATCH_CONTENT_TYPE}
        )
        assert response.status_code == 200
        assert b"\n" not in response.content.strip()
        answers.append(response.json())
    assert len(answers) == len(lines)


def test_batch_transform_probe_for_execution_parameters_is_not_an_error(client):
    # Batch transform asks GET /execution-parameters first and uses its defaults on a 404.
    response = client.get("/execution-parameters")
    assert response.status_code == 404
    assert response.json()["error"]
