"""Live orders fed by broadcast: every saved order (the admin's save, the
button, ``manage.py publish_orders`` in another terminal) is published with
``publish()``, and every open page hears it through ``subscribe()``.

The demo's SQLite database is the backend (``STREAMKIT_BROADCAST``'s
default): processes sharing it hear each other by polling it, as they would
by ``LISTEN``/``NOTIFY`` on PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from demo.models import Order, place_random_order
from django_streamkit import EventStreamResponse, last_event_id
from django_streamkit.broadcast import publish, subscribe
from django_streamkit.events import sync_only

CHANNEL = "orders"

FEATURE = {
    "title": "Broadcast: live orders from anywhere",
    "text": "publish() from the admin's save, a view or a management command "
    "reaches every open page through subscribe(), across processes, resuming "
    "from Last-Event-ID after a reconnect.",
    "links": [
        {
            "url": "/live/broadcast/",
            "label": "/live/broadcast/",
            "how": "save an order in the admin, or run manage.py publish_orders",
        },
    ],
}


def order_event(order: Order) -> dict[str, Any]:
    return {
        "id": order.pk,
        "customer": order.customer,
        "quantity": order.quantity,
        "total": order.total,
        "status": order.status,
        "book": order.book.title,
    }


def order_saved(
    sender: type[Order], instance: Order, created: bool, **kwargs: Any
) -> None:
    """``post_save`` of ``Order``: publish it. In the admin's transaction
    the event leaves on the commit, and never if the save is rolled back."""
    publish(CHANNEL, {**order_event(instance), "created": created}, event="order")


def page(request: HttpRequest) -> HttpResponse:
    return render(request, "demo/broadcast_orders.html", using="django")


def events(request: HttpRequest) -> EventStreamResponse:
    subscription = subscribe(CHANNEL, last_event_id=last_event_id(request))
    # Under runserver or gunicorn (WSGI) the server's thread reads it.
    source = (
        subscription if isinstance(request, ASGIRequest) else sync_only(subscription)
    )
    return EventStreamResponse(source, retry=2000)


@require_POST
def place(request: HttpRequest) -> JsonResponse:
    try:
        order = place_random_order()
    except LookupError as exc:
        return JsonResponse({"error": str(exc)}, status=409)
    return JsonResponse({"id": order.pk})
