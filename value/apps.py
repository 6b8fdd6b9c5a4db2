from django.apps import AppConfig


class ValueConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "value"
    verbose_name = "Proof and value"

    def ready(self) -> None:
        # Billing fires value.receipt_issue by name on commit: the task must be registered in every
        # process that finalizes (web, worker, management commands), not only where Celery autodiscovers.
        from value import tasks  # noqa: F401
