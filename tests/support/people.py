"""The users and orders the export, admin and view tests sign in with and read."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.contrib.auth.models import Permission, User
from django.test import Client

from tests.support.testapp.models import Customer, Order

WHEN = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)


def user_with(*codenames: str, name: str = "clerk", is_staff: bool = False) -> User:
    """A user named ``name`` with the permissions ``codenames``."""
    user = User.objects.create_user(name, password="pw", is_staff=is_staff)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


def signed_in_staff(client: Client) -> Client:
    """``client`` signed in as a staff user who may view orders."""
    client.force_login(user_with("view_order", name="staff", is_staff=True))
    return client


def three_orders(number: str = "N-{}") -> list[Order]:
    """Ann's orders ``number.format(1)``..(3), paid, new and paid, totalling
    1, 2 and 3, all made at :data:`WHEN`."""
    ann = Customer.objects.create(name="Ann")
    return Order.objects.bulk_create(
        [
            Order(
                number=number.format(i),
                customer=ann,
                status=status,
                total=Decimal(i),
                created=WHEN,
            )
            for i, status in enumerate(["paid", "new", "paid"], 1)
        ]
    )
