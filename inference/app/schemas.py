"""Request and response bodies; they are also the OpenAPI schema at /docs."""

from __future__ import annotations

from pydantic import BaseModel, Field, StrictStr


class PredictRequest(BaseModel):
    text: StrictStr = Field(description="Text to classify (MAX_TEXT_CHARS characters at most; "
                            "longer than the model's maximum tokens is truncated).",
                            examples=["I loved this movie!"])


class BatchPredictRequest(BaseModel):
    texts: list[StrictStr] = Field(description="Texts to classify (MAX_BATCH_SIZE at most).",
                                   examples=[["I loved this movie!", "What a waste of time."]])


class PredictResponse(BaseModel):
    label: str = Field(description="The predicted label, from the model config's id2label.", examples=["POSITIVE"])
    confidence: float = Field(ge=0, le=1, description="Probability of that label.", examples=[0.98])
    model_version: str = Field(examples=["distilbert-base-uncased-finetuned-sst-2-english@<commit>"])
    processing_time_ms: float = Field(ge=0, description="Model time for the request: the forward passes "
                                      "that computed its texts (queue wait excluded).")
    truncated: bool = Field(description="True if the text was longer than the model's maximum tokens and was cut.")
    # 0.x: kept so existing clients keep working; removed in 1.0.
    sentiment: str = Field(description="Deprecated: the same value as `label` (from when the service only served "
                           "sentiment models). Read `label`; `sentiment` goes away in 1.0.",
                           examples=["POSITIVE"], json_schema_extra={"deprecated": True})


class BatchPredictResponse(BaseModel):
    predictions: list[PredictResponse] = Field(description="One answer per text, in input order.")


class HealthResponse(BaseModel):
    status: str = Field(examples=["ok"])
    model_version: str
    platform: str
