"""schemathesis over docs/openapi.json against a real ``faceprint serve`` subprocess:
a bounded run (``SERVE_FUZZ_EXAMPLES`` examples per operation, default 20), with a
valid key and token so the endpoints are reached: no 5xx answer, every answer's status,
content type and body as the document says."""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from serve_process import create_key, start, stop  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.data]
ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = int(os.environ.get("SERVE_FUZZ_EXAMPLES", "20"))
schema = schemathesis.openapi.from_path(str(ROOT / "docs" / "openapi.json"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Any:
    db = tmp_path_factory.mktemp("fuzz") / "gallery.sqlite"
    key = create_key(db, "*", "detect,search,manage")
    server = start(db, "--rate", "0")
    with urllib.request.urlopen(f"{server.base}/oauth/2.0/token?grant_type=client_credentials"
                                f"&client_id={key['api_key']}&client_secret="
                                f"{key['secret_key']}", timeout=60) as r:
        token = json.load(r)["access_token"]
    yield server, key, token
    assert server.alive()
    with urllib.request.urlopen(server.base + "/metrics", timeout=60) as r:
        lines = [x for x in r.read().decode().splitlines()
                 if x.startswith(("faceprint_requests_total", "faceprint_errors_total"))]
    print("\n".join(lines))  # what the run reached (pytest -s shows it)
    stop(server)


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
          derandomize=True)
def test_openapi_fuzz(case: Any, live: Any) -> None:
    server, key, token = live
    if case.path.startswith("/rest/"):
        case.query = {**(case.query or {}), "access_token": token}
    if case.path.startswith("/api/"):
        case.headers = {**(case.headers or {}), "x-api-key": key["api_key"]}
    case.call_and_validate(base_url=server.base, checks=CHECKS)
