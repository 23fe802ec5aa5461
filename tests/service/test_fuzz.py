"""Property-based fuzzing of the OpenAPI schema (schemathesis): whatever comes in, never a 5xx,
and every answer matches the documented status codes, content types and schemas."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from inference.app.main import create_app
from inference.app.settings import Settings

# The schema does not depend on the model: read it from an app that never loads one.
schema = schemathesis.openapi.from_dict(create_app(Settings(model_dir=Path("unused")), load_on_startup=False).openapi())


@pytest.fixture(scope="module")
def fuzz_app(make_app):
    return make_app(max_batch_size=8)


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_no_server_errors_and_answers_match_the_schema(case, fuzz_app):
    case.call_and_validate(app=fuzz_app, checks=[not_a_server_error, status_code_conformance,
                                                 content_type_conformance, response_schema_conformance,
                                                 negative_data_rejection])
