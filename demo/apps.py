from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The Acme AI demo: its data and `manage.py seed_demo`. Above every other app, and imported by none."""

    name = "demo"
