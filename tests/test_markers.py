"""The suite's own rule: a test that uses PostgreSQL carries ``postgres``.

The rule runs at every collection (tests/conftest.py); here it is given a
small suite of its own, in a subprocess, to show what it catches.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support.databases import MARKER_MISSING
from tests.support.servers import ROOT

SUITE = """
import pytest

from tests.support.databases import each_database


@pytest.mark.django_db(databases=["default", "postgres"])
def test_unmarked(): ...


@pytest.mark.django_db(databases="__all__")
def test_all_unmarked(): ...


@pytest.mark.postgres
@pytest.mark.django_db(databases=["default", "postgres"])
def test_marked(): ...


@pytest.mark.django_db
def test_sqlite_only(): ...


def test_no_database(): ...


@pytest.mark.parametrize("db", each_database())
def test_each(db): ...


@pytest.mark.django_db(databases=["default", "postgres"])
@pytest.mark.parametrize(
    "db", ["default", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_both_asked_for(db): ...


class TestOnBoth:
    databases = ["default", "postgres"]

    def test_method(self): ...
"""

# Collection only, without pytest-django: the rule needs no database.
COMMAND = [sys.executable, "-m", "pytest", "--collect-only", "-q", "--strict-markers"]
COMMAND += ["-p", "no:django", "-p", "no:cacheprovider"]

SERVER_SUITE = """
from tests.support.pgserver import seed


def test_a_server_on_postgres(): ...
"""


def test_a_test_on_postgres_without_the_marker_stops_the_run(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nmarkers =\n    django_db: stand-in\n    postgres: stand-in\n"
    )
    (tmp_path / "conftest.py").write_text(
        "from tests.support.databases import pytest_collection_modifyitems  # noqa\n"
    )
    (tmp_path / "test_suite.py").write_text(textwrap.dedent(SUITE))
    (tmp_path / "test_server.py").write_text(textwrap.dedent(SERVER_SUITE))
    result = subprocess.run(
        COMMAND,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, result
    (message,) = [line for line in result.stderr.splitlines() if MARKER_MISSING in line]
    unmarked = message.split(MARKER_MISSING, 1)[1].split(", ")
    assert sorted(unmarked) == [
        "test_server.py::test_a_server_on_postgres",
        "test_suite.py::TestOnBoth::test_method",
        "test_suite.py::test_all_unmarked",
        # The SQLite case asks for the PostgreSQL database too.
        "test_suite.py::test_both_asked_for[default]",
        "test_suite.py::test_unmarked",
    ]
