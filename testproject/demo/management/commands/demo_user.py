"""Create (or reset) the demo superuser and print its credentials."""

from __future__ import annotations

import os
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

USERNAME = "demo"
PASSWORD = "streamkit-demo"


class Command(BaseCommand):
    help = "Create the demo superuser (local demo only) and print how to log in."

    def handle(self, *args: Any, **options: Any) -> None:
        user, _ = get_user_model().objects.get_or_create(username=USERNAME)
        user.is_staff = user.is_superuser = True
        user.set_password(PASSWORD)
        user.save()
        self.stdout.write(
            self.style.SUCCESS(
                f"Admin: http://127.0.0.1:{os.environ.get('DEMO_PORT', '8000')}"
                f"/admin/  user {USERNAME!r}, "
                f"password {PASSWORD!r}"
            )
        )
