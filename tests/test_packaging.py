"""The package builds as a wheel and an sdist that ``twine check`` passes, with
its templates, its ``py.typed`` and classifiers naming what is supported."""

from __future__ import annotations

import email
import shutil
import subprocess
import sys
import tarfile
import zipfile
from email.message import Message
from pathlib import Path

import django
import pytest
import trove_classifiers

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "django_streamkit"


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``python -m build`` on a copy of what the sdist is made from, so the
    build leaves nothing in the checkout."""
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(
        PACKAGE, source / PACKAGE.name, ignore=shutil.ignore_patterns("__pycache__")
    )
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(source)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out


def wheel(dist: Path) -> Path:
    (path,) = dist.glob("*.whl")
    return path


def metadata(dist: Path) -> Message:
    with zipfile.ZipFile(wheel(dist)) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return email.message_from_bytes(archive.read(name))


def test_twine_check_passes(dist: Path) -> None:
    files = sorted(str(path) for path in dist.iterdir())
    assert len(files) == 2, files  # the wheel and the sdist
    result = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *files],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("PASSED") == 2, result.stdout


def test_the_wheel_has_the_templates_and_py_typed(dist: Path) -> None:
    with zipfile.ZipFile(wheel(dist)) as archive:
        names = set(archive.namelist())
    shipped = {
        path.relative_to(ROOT).as_posix()
        for folder in ("templates", "jinja2")
        for path in (PACKAGE / folder).rglob("*")
        if path.is_file()
    }
    assert "django_streamkit/jinja2/streamkit/index.html" in shipped
    assert "django_streamkit/templates/admin/streamkit/change_list.html" in shipped
    assert shipped | {"django_streamkit/py.typed"} <= names, sorted(names)
    modules = {p.relative_to(ROOT).as_posix() for p in PACKAGE.rglob("*.py")}
    assert modules <= names
    assert not [n for n in names if n.startswith(("tests/", "testproject/"))]


def test_the_sdist_has_the_license_and_the_readme(dist: Path) -> None:
    (sdist,) = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[-1] for name in archive.getnames()}
    assert {"LICENSE", "README.md", "pyproject.toml"} <= names
    assert "django_streamkit/jinja2/streamkit/index.html" in names


def test_the_classifiers_name_every_supported_django_and_python(dist: Path) -> None:
    meta = metadata(dist)
    classifiers = meta.get_all("Classifier") or []
    unknown = [c for c in classifiers if c not in trove_classifiers.classifiers]
    assert not unknown, unknown
    running = f"Framework :: Django :: {django.VERSION[0]}.{django.VERSION[1]}"
    assert running in classifiers  # the Django this suite runs on
    for version in ("5.2", "6.0", "6.1"):
        assert f"Framework :: Django :: {version}" in classifiers
    python = (
        f"Programming Language :: Python :: {sys.version_info[0]}.{sys.version_info[1]}"
    )
    assert python in classifiers
    for version in ("3.11", "3.12", "3.13"):
        assert f"Programming Language :: Python :: {version}" in classifiers
    assert meta["License-Expression"] == "MIT"
    assert meta["Requires-Python"] == ">=3.11"
    assert meta["Description-Content-Type"] == "text/markdown"
