"""The demo's JSON feed: the orders as one streamed JSON document, or JSON Lines."""

from __future__ import annotations

from demo.models import Order
from django_streamkit.views import JSONStreamView


class OrderFeed(JSONStreamView):
    """Every order as an object keyed by field name, read a column at a time
    from ``values()``; ``?format=ndjson`` gives one object per line."""

    model = Order
    fields = ["id", "created", "customer", "book__title", "quantity", "total", "status"]
    labels = {"book__title": "book"}
    choices_as_labels = ["status"]

    def get_envelope(self) -> dict[str, object] | None:
        return {"count": self.object_list.count()}
