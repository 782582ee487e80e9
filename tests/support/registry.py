"""The export registry put back as it was after a test that registers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django_streamkit.exports import registry


@contextmanager
def registry_restored(*, empty: bool = False) -> Iterator[None]:
    """Within: the exports registered (``empty``: none to begin with); after:
    the registry as it was before, whatever the test registered."""
    saved = dict(registry._registry)
    if empty:
        registry._registry.clear()
    try:
        yield
    finally:
        registry._registry.clear()
        registry._registry.update(saved)
