"""Collection through Stripe: per-organization keys, invoice pushes, and Stripe's webhooks back."""
from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "payments"
    verbose_name = "Payments"

    def ready(self) -> None:
        # Billing fires payments.push_invoice and payments.push_credit_note by name (it may not import
        # payments): registering them here makes them known to every process, web and worker alike.
        from payments import tasks  # noqa: F401
