"""The audit triggers live with the audit app, not in the migrations of the apps they watch.

pgtrigger files a trigger under the model it watches, so `makemigrations` would write the audit's
triggers into billing's, outcomes' and accounts' migrations, next to those apps' own changes (and
their own guard triggers). Here they are taken out of those models' migration state and installed by
this app after every `migrate` (CREATE OR REPLACE: the trigger always lists the event model's
current columns). Their tables are ordinary models of this app, with migrations in audit/migrations.
"""

from typing import Any

import pgtrigger

PREFIX = "audit_"


def audit_triggers() -> list[tuple[Any, Any]]:
    """(tracked model, trigger) for every audit trigger."""
    return [(model, trigger) for model, trigger in pgtrigger.registered() if (trigger.name or "").startswith(PREFIX)]


def keep_out_of_tracked_apps_migrations() -> None:
    for model, trigger in audit_triggers():
        meta: Any = model._meta
        if trigger in getattr(meta, "triggers", []):
            meta.triggers = [t for t in meta.triggers if t is not trigger]
        original = meta.original_attrs.get("triggers")
        if original is not None and trigger in original:
            meta.original_attrs["triggers"] = [t for t in original if t is not trigger]
            if not meta.original_attrs["triggers"]:
                del meta.original_attrs["triggers"]


def audit_triggers_install(*, using: str = "default") -> int:
    """Install (or replace) every audit trigger; returns how many."""
    installed = 0
    for model, trigger in audit_triggers():
        trigger.install(model, database=using)
        installed += 1
    return installed
