from django.apps import AppConfig


class TestappConfig(AppConfig):
    name = "tests.support.testapp"
    label = "testapp"
