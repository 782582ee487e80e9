from __future__ import annotations

from django.apps import AppConfig


class StreamkitConfig(AppConfig):
    name = "django_streamkit"
    label = "streamkit"
    verbose_name = "Streamkit"
    # The broadcast tables' keys, whatever the project's DEFAULT_AUTO_FIELD.
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django_streamkit import checks, events, exports

        checks.register()
        # Import every app's exports module, as the admin imports admin.py.
        exports.autodiscover()
        # And every app's events module, for the mounted event channels.
        events.autodiscover()
