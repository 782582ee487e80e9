"""django_streamkit (its ``__init__``): the public names, re-exported with
``__all__`` from the public modules that define them, and nothing else."""

from __future__ import annotations
import __future__

import re
from pathlib import Path
from types import ModuleType

import pytest

import django_streamkit
from django_streamkit import (
    admin,
    checks,
    conf,
    context,
    csv,
    exports,
    middleware,
    responses,
    sse,
    templating,
    urls,
    views,
)

ROOT = Path(__file__).resolve().parent.parent
PUBLIC_MODULES = [
    admin,
    checks,
    conf,
    context,
    csv,
    exports,
    middleware,
    responses,
    sse,
    templating,
    urls,
    views,
]
DOCS = "\n".join(
    path.read_text() for path in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]
)


def test_a_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from django_streamkit import *", namespace)
    del namespace["__builtins__"]
    assert sorted(namespace) == sorted(django_streamkit.__all__)
    assert len(set(django_streamkit.__all__)) == len(django_streamkit.__all__)


def test_the_package_holds_nothing_public_beyond_all() -> None:
    public = {
        name
        for name, value in vars(django_streamkit).items()
        if not name.startswith("_")
        and not isinstance(value, ModuleType)
        and value is not __future__.annotations
    }
    assert public == set(django_streamkit.__all__)


@pytest.mark.parametrize("name", django_streamkit.__all__)
def test_each_name_is_re_exported_from_a_public_module(name: str) -> None:
    value = getattr(django_streamkit, name)
    homes = [m.__name__ for m in PUBLIC_MODULES if getattr(m, name, None) is value]
    assert homes, f"{name} is in no public module"


@pytest.mark.parametrize("name", django_streamkit.__all__)
def test_each_name_is_in_the_readme_or_the_docs(name: str) -> None:
    assert re.search(rf"\b{name}\b", DOCS), name
