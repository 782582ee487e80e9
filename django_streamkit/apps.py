from __future__ import annotations

from django.apps import AppConfig


class StreamkitConfig(AppConfig):
    name = "django_streamkit"
    label = "streamkit"
    verbose_name = "Streamkit"

    def ready(self) -> None:
        from django_streamkit import checks

        checks.register()
