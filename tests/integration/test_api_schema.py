"""Property-based: schemathesis drives the API from its own OpenAPI schema; no input gives a
5xx, not even while the rate limits' Redis is stopped for part of the run."""

from __future__ import annotations

import atexit
import itertools
import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings

from brief.config import Settings
from brief.web.app import create_app
from tests.factories import RecordingQueue, RecordingSender
from tests.instances import RedisInstance

ADMIN = "schema-admin-token"
# Built at collection: schemathesis parametrizes one test per API operation from it.
_DATA = Path(tempfile.mkdtemp(prefix="brief-schema-"))
# A Redis of our own, for the rate limits: stopped for a stretch of the run below.
_REDIS = RedisInstance(_DATA)
_REDIS.start()
atexit.register(_REDIS.close)
app = create_app(
    Settings(
        _env_file=None,
        data_dir=_DATA,
        admin_token=ADMIN,  # type: ignore[call-arg]
        base_url="https://brief.test",
        redis_url=_REDIS.url,
    ),
    queue=RecordingQueue(),
    sender=RecordingSender(),
)
schema = schemathesis.openapi.from_asgi("/openapi.json", app)
_CALLS = itertools.count()
REDIS_DOWN = range(150, 450)  # the calls made while Redis is stopped


def _redis_for(call: int) -> None:
    if call == REDIS_DOWN.start:
        _REDIS.stop()
    elif call == REDIS_DOWN.stop:
        _REDIS.start()


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_gives_a_server_error(case: schemathesis.Case) -> None:
    for headers in ({"Authorization": f"Bearer {ADMIN}"}, {}):
        _redis_for(next(_CALLS))
        response = case.call(headers=headers)
        assert response.status_code < 500, (case.method, case.path, response.text[:500])


def test_the_run_had_redis_stopped_for_a_stretch() -> None:
    # Runs after the schema tests (file order): the stretch above really happened.
    assert next(_CALLS) > REDIS_DOWN.stop
    assert _REDIS.process is not None  # and Redis is back
