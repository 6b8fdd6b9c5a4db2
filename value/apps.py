from django.apps import AppConfig


class ValueConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "value"
    verbose_name = "Proof and value"
