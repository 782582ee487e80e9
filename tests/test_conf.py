"""django_streamkit.conf: the ``STREAMKIT_*`` settings, read live, and their
defaults as the README documents them."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings

from django_streamkit.conf import DEFAULTS, Settings, conf

ROOT = Path(__file__).resolve().parent.parent

# A valid value other than the default, for each setting.
OTHERS: dict[str, Any] = {
    "CHUNK_SIZE": 8192,
    "MAX_LATENCY": 0.25,
    "CSV_ESCAPE_FORMULAS": False,
    "CSV_DATETIME_FORMAT": "iso",
    "CSV_COPY": False,
    "EXPORT_BOM": False,
    "QUERYSET_CHUNK_SIZE": 10,
    "TEMPLATE_BUFFER_SIZE": 1,
    "SSE_PING": 2.5,
    "BROADCAST": {"BACKEND": "memory"},
}


def test_each_setting_has_one_typed_property() -> None:
    properties = {
        name for name, value in vars(Settings).items() if isinstance(value, property)
    }
    assert properties == set(DEFAULTS) == set(OTHERS)


@pytest.mark.parametrize("name", sorted(DEFAULTS))
def test_an_unset_setting_reads_its_default(name: str) -> None:
    assert not hasattr(settings, f"STREAMKIT_{name}")  # the test settings set none
    value = getattr(conf, name)
    assert value == DEFAULTS[name]
    assert type(value) is type(DEFAULTS[name])


@pytest.mark.parametrize("name", sorted(DEFAULTS))
def test_a_setting_is_read_live(name: str) -> None:
    # The one module-level conf object sees each override while it lasts.
    assert OTHERS[name] != DEFAULTS[name]
    with override_settings(**{f"STREAMKIT_{name}": OTHERS[name]}):
        assert getattr(conf, name) == OTHERS[name]
        with override_settings(**{f"STREAMKIT_{name}": DEFAULTS[name]}):
            assert getattr(conf, name) == DEFAULTS[name]
        assert getattr(conf, name) == OTHERS[name]
    assert getattr(conf, name) == DEFAULTS[name]


def test_numbers_are_read_as_their_type() -> None:
    with override_settings(STREAMKIT_MAX_LATENCY=1, STREAMKIT_CHUNK_SIZE=4096.0):
        assert conf.MAX_LATENCY == 1.0
        assert type(conf.MAX_LATENCY) is float
        assert conf.CHUNK_SIZE == 4096
        assert type(conf.CHUNK_SIZE) is int


def test_the_readme_lists_every_setting_with_its_default() -> None:
    section = (ROOT / "README.md").read_text().split("## Settings", 1)[1]
    rows = re.findall(r"^\| `STREAMKIT_(\w+)` \| `([^`]+)` \|", section, re.M)
    assert {name: ast.literal_eval(default) for name, default in rows} == DEFAULTS
