from __future__ import annotations

from django.db import models


class Row(models.Model):
    """A wide row for streaming tests and benchmarks."""

    name = models.CharField(max_length=100)
    value = models.IntegerField()

    def __str__(self) -> str:
        return self.name
