from __future__ import annotations

import pytest
from django.core import checks
from django.test import override_settings

from django_streamkit.checks import check_settings


def test_defaults_pass() -> None:
    assert check_settings() == []


@pytest.mark.parametrize(
    ("setting", "value", "check_id"),
    [
        ("STREAMKIT_CHUNK_SIZE", 0, "streamkit.E001"),
        ("STREAMKIT_CHUNK_SIZE", "64k", "streamkit.E001"),
        ("STREAMKIT_MAX_LATENCY", -1, "streamkit.E002"),
        ("STREAMKIT_MAX_LATENCY", float("nan"), "streamkit.E002"),
        ("STREAMKIT_CSV_ESCAPE_FORMULAS", "yes", "streamkit.E003"),
        ("STREAMKIT_QUERYSET_CHUNK_SIZE", 0, "streamkit.E004"),
        ("STREAMKIT_TEMPLATE_BUFFER_SIZE", None, "streamkit.E005"),
    ],
)
def test_bad_values_are_reported_with_stable_ids(
    setting: str, value: object, check_id: str
) -> None:
    with override_settings(**{setting: value}):
        errors = check_settings()
        registered = [e for e in checks.run_checks() if e.id == check_id]
    assert [e.id for e in errors] == [check_id]
    assert setting in errors[0].msg
    assert repr(value) in errors[0].msg
    assert registered, "the check is registered with Django's framework"
