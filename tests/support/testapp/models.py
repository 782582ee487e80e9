from __future__ import annotations

import django
from django.db import models
from django.utils.translation import gettext_lazy as _


class Row(models.Model):
    """A wide row for streaming tests and benchmarks."""

    name = models.CharField(max_length=100)
    value = models.IntegerField()

    def __str__(self) -> str:
        return self.name


class Author(models.Model):
    name = models.CharField(max_length=100)
    born = models.DateField("date of birth", null=True)

    def __str__(self) -> str:
        return self.name


class Book(models.Model):
    class Genre(models.TextChoices):
        NOVEL = "novel", _("Novel")
        POETRY = "poetry", _("Poetry")

    title = models.CharField(max_length=200)
    author = models.ForeignKey(Author, related_name="books", on_delete=models.CASCADE)
    genre = models.CharField(max_length=20, choices=Genre.choices)
    rating = models.IntegerField(choices=[(1, "poor"), (2, "fine"), (3, "great")])
    price = models.DecimalField(max_digits=8, decimal_places=2, null=True)
    published = models.DateTimeField(null=True)

    def __str__(self) -> str:
        return self.title


class Record(models.Model):
    """Eight columns of the kind exports carry; the 1,000,000-row table."""

    class Status(models.TextChoices):
        NEW = "new", _("New")
        PAID = "paid", _("Paid")
        SHIPPED = "shipped", _("Shipped")

    name = models.CharField("customer name", max_length=100)
    email = models.CharField(max_length=100)
    city = models.CharField(max_length=100)
    status = models.CharField(max_length=10, choices=Status.choices)
    quantity = models.IntegerField()
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    created = models.DateTimeField()
    note = models.TextField()

    def __str__(self) -> str:
        return self.name


class Customer(models.Model):
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Order(models.Model):
    """Exports, the admin mixin and their filters in the tests."""

    class Status(models.TextChoices):
        NEW = "new", _("New")
        PAID = "paid", _("Paid")
        SHIPPED = "shipped", _("Shipped")

    number = models.CharField(max_length=20)
    customer = models.ForeignKey(
        Customer, related_name="orders", on_delete=models.CASCADE
    )
    status = models.CharField(max_length=10, choices=Status.choices)
    total = models.DecimalField(max_digits=8, decimal_places=2)
    gift = models.BooleanField(default=False)
    created = models.DateTimeField()
    shipped = models.DateField(null=True, blank=True)
    # Never declared in an export: the tests check it never leaves.
    secret = models.CharField(max_length=50, default="")

    class Meta:
        ordering = ["number"]

    def __str__(self) -> str:
        return self.number


class Sample(models.Model):
    """One nullable column of each value type CSV exports write."""

    class Size(models.TextChoices):
        SMALL = "s", _("Small")
        LARGE = "l", _("Large")

    # NULL text is what the export must write as an empty cell.
    text = models.TextField(null=True)  # noqa: DJ001
    size = models.CharField(max_length=1, choices=Size.choices, null=True)  # noqa: DJ001
    count = models.BigIntegerField(null=True)
    ratio = models.FloatField(null=True)
    price = models.DecimalField(max_digits=8, decimal_places=2, null=True)
    fine = models.DecimalField(max_digits=15, decimal_places=6, null=True)
    wide = models.DecimalField(max_digits=20, decimal_places=9, null=True)
    if django.VERSION >= (6, 1):
        # Any precision the database keeps (Django 6.1+ on SQLite and
        # PostgreSQL); before 6.1 the nearest is a precision beyond what
        # SQLite keeps, which no fast shape covers either.
        loose = models.DecimalField(null=True)
    else:
        loose = models.DecimalField(max_digits=40, decimal_places=20, null=True)
    flag = models.BooleanField(null=True)
    day = models.DateField(null=True)
    moment = models.DateTimeField(null=True)
    hour = models.TimeField(null=True)
    key = models.UUIDField(null=True)

    def __str__(self) -> str:
        return f"sample {self.pk}"


class Pair(models.Model):
    """A composite primary key: keyset pages break ties on its columns."""

    pk = models.CompositePrimaryKey("left", "right")
    left = models.IntegerField()
    right = models.IntegerField()
    name = models.CharField(max_length=20)

    def __str__(self) -> str:
        return self.name
