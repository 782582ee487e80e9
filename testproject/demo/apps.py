from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "demo"
    verbose_name = "Bookshop (demo)"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from demo.broadcast import order_saved
        from demo.models import Order

        # Every saved order is published to the live pages (demo.broadcast).
        post_save.connect(order_saved, sender=Order, dispatch_uid="demo-broadcast")
