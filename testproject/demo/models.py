"""A bookshop: authors, books and orders, seeded by ``manage.py seed``."""

from __future__ import annotations

import random

from django.db import models
from django.utils import timezone


class Author(models.Model):
    name = models.CharField("name", max_length=120)
    country = models.CharField("country", max_length=60)
    born = models.DateField("born", null=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Book(models.Model):
    class Genre(models.TextChoices):
        FICTION = "fic", "Fiction"
        MYSTERY = "mys", "Mystery"
        SCIENCE = "sci", "Science"
        HISTORY = "his", "History"
        POETRY = "poe", "Poetry"
        CHILDREN = "chi", "Children"

    title = models.CharField("title", max_length=200)
    author = models.ForeignKey(Author, models.CASCADE, related_name="books")
    genre = models.CharField("genre", max_length=3, choices=Genre.choices)
    isbn = models.CharField("ISBN", max_length=13, unique=True)
    published = models.DateField("published")
    pages = models.PositiveIntegerField("pages")
    price = models.DecimalField("price", max_digits=7, decimal_places=2)
    in_stock = models.BooleanField("in stock", default=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.title


class Order(models.Model):
    class Status(models.TextChoices):
        NEW = "new", "New"
        PAID = "paid", "Paid"
        SHIPPED = "shipped", "Shipped"
        RETURNED = "returned", "Returned"

    book = models.ForeignKey(Book, models.CASCADE, related_name="orders")
    customer = models.CharField("customer", max_length=120)
    email = models.EmailField("email")
    quantity = models.PositiveSmallIntegerField("quantity")
    total = models.DecimalField("total", max_digits=9, decimal_places=2)
    status = models.CharField("status", max_length=8, choices=Status.choices)
    created = models.DateTimeField("created")
    note = models.CharField("note", max_length=200, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"Order {self.pk}"


CUSTOMERS = ["Ada Lovelace", "Grace Hopper", "Alan Turing", "Edsger Dijkstra"]


def place_random_order() -> Order:
    """A new order of a random book, as a shop's checkout would place it."""
    book = Book.objects.order_by("?").first()
    if book is None:
        raise LookupError("no books: run manage.py seed")
    quantity = random.randint(1, 3)
    return Order.objects.create(
        book=book,
        customer=random.choice(CUSTOMERS),
        email="live@example.com",
        quantity=quantity,
        total=book.price * quantity,
        status=Order.Status.NEW,
        created=timezone.now(),
    )
