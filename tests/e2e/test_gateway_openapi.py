"""Schemathesis against ``/openapi.json`` of a real gunicorn gateway: no 5xx, no schema violation.

The archive behind it holds the real sample packets, so generated queries hit real rows. Two
passes: requests the schema allows, and requests it forbids (wrong types, out-of-range numbers,
bad formats), which must get a documented 4xx JSON error. The number of examples per operation
is bounded (the run takes well under a minute). In the first pass, a schema-valid request must
also be answered, not refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import FailureGroup

from vohub.testing.gateway import Stack, real_packets, start_stack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

DATA = Path(__file__).resolve().parents[2] / "data"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


#: Refusals of schema-valid values only the archive can make: an IVORN it lacks (voeventdb's 422
#: in apiv1, a 404 in apiv2) and a ``cursor`` it did not issue.
ONLY_THE_ARCHIVE_KNOWS = {(404, "ivorn"), (422, "ivorn"), (400, "cursor")}


def schema_valid_requests_are_answered(ctx: Any, response: Any, case: Any) -> None:
    """A request the schema allows gets no 4xx (a generated client would be misled)."""
    status = response.status_code
    if 400 <= status < 500:
        parameter = response.json()["error"]["parameter"]
        if (status, parameter) not in ONLY_THE_ARCHIVE_KNOWS:
            raise AssertionError(f"a schema-valid request was refused: {response.text[:300]}")


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    logs = tmp_path_factory.mktemp("openapi")
    stack = start_stack(f"sqlite:///{logs / 'archive.db'}", logs, real_packets(DATA))
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def api_schema(running: Stack) -> Any:
    return schemathesis.openapi.from_url(f"{running.url}/openapi.json")


def operations(schema: Any) -> list[Any]:
    return [result.ok() for result in schema.get_all_operations()]


def test_every_documented_operation_is_exercised(api_schema: Any) -> None:
    paths = {op.path for op in operations(api_schema)}
    assert {"/apiv1/count", "/apiv1/packet/xml/{ivorn}", "/apiv2/packets", "/healthz"} <= paths


@pytest.mark.parametrize("mode", list(GenerationMode), ids=lambda m: m.value)
def test_no_server_errors_and_responses_match_the_schema(
    api_schema: Any, mode: GenerationMode
) -> None:
    failures: list[str] = []
    exercised: list[str] = []
    checks = (
        [*CHECKS, schema_valid_requests_are_answered] if mode is GenerationMode.POSITIVE else CHECKS
    )
    for operation in operations(api_schema):

        @settings(max_examples=25, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        @given(case=operation.as_strategy(generation_mode=mode))
        def exercise(case: Any) -> None:
            case.call_and_validate(checks=checks)

        try:
            exercise()
        except Unsatisfiable:
            if mode is GenerationMode.POSITIVE:
                raise
            continue  # the schema forbids nothing here (no parameters, or a free-form string)
        except FailureGroup as failure:  # every check failure found for this operation
            failures.append(f"{operation.method.upper()} {operation.path}: {failure}")
        exercised.append(operation.path)
    assert not failures, "\n\n".join(failures)
    assert {"/apiv1/count", "/apiv1/list/ivorn", "/apiv2/packets"} <= set(exercised)
