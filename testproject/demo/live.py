"""Live pages: new orders as they are placed, and a chat whose answer streams
in token by token. Both are event streams (EventStreamView) read by the
browser's EventSource."""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from demo.models import Order, place_random_order
from django_streamkit import ServerSentEvent
from django_streamkit.views import EventStreamView

FEATURE = {
    "title": "Live pages (Server-Sent Events)",
    "text": "EventStreamView: each event reaches the browser's EventSource as "
    "soon as it is made, with heartbeats while nothing happens, and resumes "
    "from Last-Event-ID after a reconnect.",
    "links": [
        {
            "url": "/live/orders/",
            "label": "/live/orders/",
            "how": "new orders appear as they are placed",
        },
        {
            "url": "/live/chat/",
            "label": "/live/chat/",
            "how": "an answer streamed token by token",
        },
    ],
}

#: How often the orders table is polled for new rows.
POLL = 1.0
#: Where a stream ends on its own; the browser reconnects after ``retry``.
STREAM_FOR = 300.0


def orders_page(request: HttpRequest) -> HttpResponse:
    latest = list(Order.objects.order_by("-id").values(*FIELDS)[:10])
    return render(request, "demo/live_orders.html", {"latest": latest}, using="django")


FIELDS = ("id", "customer", "quantity", "total", "book__title")


class NewOrders(EventStreamView):
    """Orders placed after ``last_event_id`` (an order's id), polled from
    the table; ``None`` between polls lets the stream close there when the
    browser leaves."""

    retry = 2000

    def get_events(self, last_event_id: str | None) -> Iterator[ServerSentEvent | None]:
        after = _order_id(last_event_id)
        if after is None:  # a first visit: only what is placed from now on
            after = (
                Order.objects.order_by("-id").values_list("id", flat=True).first() or 0
            )
        deadline = time.monotonic() + STREAM_FOR
        while time.monotonic() < deadline:
            new = list(
                Order.objects.filter(id__gt=after).order_by("id").values(*FIELDS)
            )
            for order in new:
                after = order["id"]
                yield ServerSentEvent(order, event="order", id=after)
            if not new:
                time.sleep(POLL)
                yield None


def _order_id(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


@require_POST
def place_order(request: HttpRequest) -> JsonResponse:
    """Place a random order, as a shop's checkout would."""
    try:
        order = place_random_order()
    except LookupError as exc:
        return JsonResponse({"error": str(exc)}, status=409)
    return JsonResponse({"id": order.pk, "total": str(Decimal(order.total))})


def chat_page(request: HttpRequest) -> HttpResponse:
    return render(request, "demo/chat.html", using="django")


class ChatAnswer(EventStreamView):
    """The answer to ``?q=``, one ``token`` event per token, then ``done``."""

    async def get_events(
        self, last_event_id: str | None
    ) -> AsyncIterator[ServerSentEvent]:
        question = self.request.GET.get("q", "").strip()
        async for token in simulated_model(question):
            yield ServerSentEvent(token, event="token")
        yield ServerSentEvent("", event="done")


async def simulated_model(question: str) -> AsyncIterator[str]:
    """A stand-in for a language model: a first token after a pause, then
    one every few tens of milliseconds."""
    await asyncio.sleep(0.4)
    for token in re.findall(r"\S+\s*", answer_to(question)):
        yield token
        await asyncio.sleep(random.uniform(0.02, 0.08))


def answer_to(question: str) -> str:
    asked = f"You asked: “{question}”. " if question else ""
    return (
        f"{asked}Each word of this answer is a separate Server-Sent Event, "
        "sent the moment the simulated model makes it: nothing is buffered by "
        "Django, the server or a proxy, so you read it as it is written, the "
        "way a chat assistant's reply appears."
    )
