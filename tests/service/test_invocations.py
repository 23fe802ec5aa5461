"""SageMaker's contract: GET /ping and POST /invocations with JSON, the HF toolkit shape and text/plain."""

from __future__ import annotations

import pytest

JSON = {"content-type": "application/json"}


def single(classifier, text: str) -> dict:
    prediction = classifier.predict([text])[0]
    return {"label": prediction.label, "confidence": pytest.approx(prediction.confidence, abs=1e-5)}


def test_ping_answers_200_when_ready(client):
    response = client.get("/ping")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


@pytest.mark.parametrize("payload", [{"text": "Great service"}, {"inputs": "Great service"}])
def test_invocations_with_one_json_text(client, classifier, payload):
    response = client.post("/invocations", json=payload)
    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("label", "confidence")} == single(classifier, "Great service")
    assert body["truncated"] is False and body["model_version"]


@pytest.mark.parametrize("key", ["texts", "inputs"])
def test_invocations_with_a_json_list(client, classifier, key):
    texts = ["first text", "second, longer text here", "third"]
    response = client.post("/invocations", json={key: texts})
    assert response.status_code == 200
    predictions = response.json()["predictions"]
    assert [{k: p[k] for k in ("label", "confidence")} for p in predictions] == [single(classifier, t) for t in texts]


@pytest.mark.parametrize("content_type", ["text/plain", "text/plain; charset=utf-8"])
def test_invocations_with_plain_text(client, classifier, content_type):
    text = "Plain text, with ünïcödé and a newline\nin it"
    response = client.post("/invocations", content=text.encode(), headers={"content-type": content_type})
    assert response.status_code == 200
    assert {k: response.json()[k] for k in ("label", "confidence")} == single(classifier, text)


def test_invocations_honours_the_plain_text_charset(client, classifier):
    text = "café crème"
    response = client.post("/invocations", content=text.encode("latin-1"),
                           headers={"content-type": "text/plain; charset=latin-1"})
    assert response.status_code == 200
    assert response.json()["label"] == classifier.predict([text])[0].label


def test_invocations_without_content_type_reads_json(client):
    response = client.post("/invocations", content=b'{"text": "hello"}')
    assert response.status_code == 200


def test_invocations_truncates_long_text(client):
    response = client.post("/invocations", content=("word " * 2000).encode(), headers={"content-type": "text/plain"})
    assert response.status_code == 200 and response.json()["truncated"] is True


@pytest.mark.parametrize(
    ("content", "content_type", "status", "error"),
    [
        (b"a,b\n1,2", "text/csv", 415, "unsupported_media_type"),
        (b"\x89PNG", "image/png", 415, "unsupported_media_type"),
        (b"<text>hi</text>", "application/xml", 415, "unsupported_media_type"),
        (b"{nope", "application/json", 400, "invalid_json"),
        (b"[" * 50_000, "application/json", 400, "invalid_json"),
        (b'{"text": "\xff"}', "application/json", 400, "invalid_encoding"),
        (b"\xff\xfe", "text/plain", 400, "invalid_encoding"),
        (b"hi", "text/plain; charset=no-such-charset", 415, "unsupported_charset"),
        (b"hi", "text/plain; charset=punycode", 415, "unsupported_charset"),
        (b'{"text": "hi"}', "application/json; charset=utf-16", 415, "unsupported_charset"),
        (b"", "text/plain", 422, "empty_text"),
        (b"   \n ", "text/plain", 422, "empty_text"),
        (b'{"text": ""}', "application/json", 422, "empty_text"),
        (b'{"texts": []}', "application/json", 422, "empty_batch"),
        (b'{"inputs": 5}', "application/json", 422, "invalid_request"),
        (b'{"texts": "one"}', "application/json", 422, "invalid_request"),
        (b'{"text": ["a"]}', "application/json", 422, "invalid_request"),
        (b'{"text": "a", "texts": ["b"]}', "application/json", 422, "invalid_request"),
        (b'{"something": "else"}', "application/json", 422, "invalid_request"),
        (b'["a", "b"]', "application/json", 422, "invalid_request"),
        (b'"a"', "application/json", 422, "invalid_request"),
        (b'{"text": "\\udc00"}', "application/json", 422, "invalid_text"),
    ],
)
def test_invocations_bad_input_gets_a_json_4xx(client, content, content_type, status, error):
    response = client.post("/invocations", content=content, headers={"content-type": content_type})
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    assert response.json()["detail"]


def test_invocations_limits(client):
    too_many = client.post("/invocations", json={"inputs": ["x"] * 65})
    assert too_many.status_code == 422 and too_many.json()["error"] == "batch_too_large"
    too_long = client.post("/invocations", content=b"x" * 20_001, headers={"content-type": "text/plain"})
    assert too_long.status_code == 422 and too_long.json()["error"] == "text_too_long"
    too_big = client.post("/invocations", content=b"x" * 1_100_000, headers={"content-type": "text/plain"})
    assert too_big.status_code == 413 and too_big.json()["error"] == "body_too_large"
