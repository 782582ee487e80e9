"""The guides' examples (``docs/*.md``), for the tests that run them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def read_doc(name: str) -> str:
    return (ROOT / "docs" / name).read_text()


def blocks(doc: str, language: str) -> list[str]:
    """The fenced ``language`` blocks of ``doc``."""
    return re.findall(rf"```{language}\n(.*?)```", doc, flags=re.S)


def in_test_app(source: str) -> str:
    """An example's code with ``myapp.models`` as the test app's models."""
    return source.replace("myapp.models", "tests.support.testapp.models")


def run_examples(doc: str) -> dict[str, Any]:
    """Run ``doc``'s Python blocks, in order, in one namespace; return it."""
    namespace: dict[str, Any] = {}
    for source in blocks(doc, "python"):
        exec(in_test_app(source), namespace)
    return namespace
