"""``manage.py publish_orders``: place random orders, one every ``--every``
seconds; each is published (see demo.broadcast) to every open live page."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from demo.models import place_random_order


class Command(BaseCommand):
    help = "Place random orders; open /live/broadcast/ to watch them arrive."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--count", type=int, default=10)
        parser.add_argument("--every", type=float, default=1.0)

    def handle(self, *args: Any, count: int, every: float, **options: Any) -> None:
        for n in range(count):
            if n:
                time.sleep(every)
            order = place_random_order()
            self.stdout.write(f"Placed and published order {order.pk}")
