from __future__ import annotations

from django.urls import path

from demo import broadcast, json_views, live, views, xlsx_views

app_name = "demo"

urlpatterns = [
    path("", views.index, name="index"),
    path("large.csv", views.large_csv, name="large-csv"),
    path("large-naive.csv", views.large_naive_csv, name="large-naive-csv"),
    path("orders.csv", views.OrderExport.as_view(), name="orders-csv"),
    path("books.csv", views.books_csv, name="books-csv"),
    path("orders.xlsx", xlsx_views.OrderWorkbook.as_view(), name="orders-xlsx"),
    path("orders.json", json_views.OrderFeed.as_view(), name="orders-json"),
    path("my-large-page.html", views.LargePage.as_view(), name="large-page"),
    path("stream", views.stream, name="stream"),
    path("clock", views.Clock.as_view(), name="clock"),
    path("live/orders/", live.orders_page, name="live-orders"),
    path("live/orders/events", live.NewOrders.as_view(), name="live-orders-events"),
    path("live/orders/new", live.place_order, name="live-orders-new"),
    path("live/chat/", live.chat_page, name="live-chat"),
    path("live/broadcast/", broadcast.page, name="live-broadcast"),
    path("live/broadcast/events", broadcast.events, name="live-broadcast-events"),
    path("live/broadcast/new", broadcast.place, name="live-broadcast-new"),
    path("live/chat/answer", live.ChatAnswer.as_view(), name="live-chat-answer"),
]
