"""The tests' two databases: SQLite (``"default"``) and PostgreSQL (``"postgres"``).

Every test that uses the PostgreSQL database carries ``pytest.mark.postgres``,
so ``-m "not postgres"`` runs without a PostgreSQL server: pytest-django
creates the test databases the selected tests ask for, and a SQLite case that
also asked for ``"postgres"`` would need the server too. ``tests/conftest.py``
installs :func:`pytest_collection_modifyitems`, which makes a test that uses
the database without the marker a usage error.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
from _pytest.mark.structures import ParameterSet

MARKER_MISSING = (
    "These tests use the 'postgres' database but do not carry "
    "@pytest.mark.postgres; mark them, or give a parametrized case "
    "pytest.param(..., marks=pytest.mark.postgres) (each_database() in "
    "tests/support/databases.py does both for a 'db' parameter): "
)


def each_database(*, transaction: bool = False) -> list[ParameterSet]:
    """``"default"`` and ``"postgres"`` as parameters, each case asking only for
    the databases it reads, the PostgreSQL one marked ``postgres``."""
    return [
        pytest.param("default", marks=pytest.mark.django_db(transaction=transaction)),
        pytest.param(
            "postgres",
            marks=[
                pytest.mark.postgres,
                pytest.mark.django_db(
                    databases=["default", "postgres"], transaction=transaction
                ),
            ],
        ),
    ]


def uses_postgres(item: pytest.Item) -> bool:
    """Whether ``item`` asks for the PostgreSQL test database, or serves one."""
    marker = item.get_closest_marker("django_db")
    databases: Any = marker.kwargs.get("databases") if marker else None
    if databases is None:
        databases = getattr(getattr(item, "cls", None), "databases", None) or ()
    if databases == "__all__" or "postgres" in databases:
        return True
    # The real-server tests on PostgreSQL seed and watch it through pgserver.
    module = getattr(item, "module", None)
    return isinstance(module, ModuleType) and any(
        getattr(value, "__module__", None) == "tests.support.pgserver"
        for value in vars(module).values()
    )


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    unmarked = [
        item.nodeid
        for item in items
        if uses_postgres(item) and not item.get_closest_marker("postgres")
    ]
    if unmarked:
        raise pytest.UsageError(MARKER_MISSING + ", ".join(unmarked))
