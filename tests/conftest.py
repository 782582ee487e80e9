from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from django.core.signals import request_finished
from django.db import close_old_connections
from hypothesis import settings

# A test that uses the PostgreSQL database without the postgres marker is a
# usage error (see tests/support/databases.py).
from tests.support.databases import pytest_collection_modifyitems  # noqa: F401

# CI runs the same examples on every run of the same code (a failure there is
# the code's, not the draw's); elsewhere each run explores new ones.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(autouse=True)
def _no_database_cleanup_where_the_database_is_blocked(
    request: pytest.FixtureRequest,
) -> Iterator[None]:
    # HttpResponse.close() sends request_finished, whose close_old_connections
    # would check the test database's connection (left open by earlier tests)
    # from a test that may not use the database, and fail. Tests that may use
    # it keep the handler, so connections opened on worker threads are closed.
    if request.node.get_closest_marker("django_db"):
        yield
        return
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_finished.connect(close_old_connections)
