from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _install_triggers(sender: AppConfig, using: str = "default", **kwargs: Any) -> None:
    from audit.triggers import audit_triggers_install

    audit_triggers_install(using=using)


class AuditConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "audit"
    verbose_name = "Audit log"

    def ready(self) -> None:
        # After every migrate, once (sender=self): the event tables exist by then.
        post_migrate.connect(_install_triggers, sender=self, dispatch_uid="audit.install_triggers")
