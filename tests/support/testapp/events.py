"""Event channels of the test app, found by django_streamkit's autodiscovery."""

from __future__ import annotations

from django.http import HttpRequest

from django_streamkit import ServerSentEvent
from django_streamkit.events import EventChannel, register


@register
class OrderEvents(EventChannel):
    """Every order's events, for users who may view orders."""

    name = "orders"
    permission_required = "testapp.view_order"
    ping = 0.5


@register
class MyOrderEvents(EventChannel):
    """The same channel, each signed-in user seeing only their own orders."""

    name = "my-orders"
    ping = 0.5

    def get_channel(self, request: HttpRequest) -> str:
        return "orders"

    def filter_event(
        self, request: HttpRequest, event: ServerSentEvent
    ) -> ServerSentEvent | None:
        if event.data.get("customer") != request.user.get_username():
            return None
        return event
