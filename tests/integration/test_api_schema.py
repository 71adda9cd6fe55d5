"""Property-based: schemathesis drives the API from its own OpenAPI schema; no input gives a 5xx."""

from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings

from brief.config import Settings
from brief.web.app import create_app
from tests.factories import RecordingQueue, RecordingSender

ADMIN = "schema-admin-token"
# Built at collection: schemathesis parametrizes one test per API operation from it.
_DATA = Path(tempfile.mkdtemp(prefix="brief-schema-"))
app = create_app(
    Settings(
        _env_file=None,
        data_dir=_DATA,
        admin_token=ADMIN,  # type: ignore[call-arg]
        base_url="https://brief.test",
    ),
    queue=RecordingQueue(),
    sender=RecordingSender(),
)
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_gives_a_server_error(case: schemathesis.Case) -> None:
    for headers in ({"Authorization": f"Bearer {ADMIN}"}, {}):
        response = case.call(headers=headers)
        assert response.status_code < 500, (case.method, case.path, response.text[:500])
