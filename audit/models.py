"""The audit log: who changed what, when, before and after, recorded by PostgreSQL triggers.

django-pghistory generates one event model per tracked model here, in `audit`, so its tables and
migrations live in this app whatever app owns the tracked table. Each event is a snapshot of the
row (after an insert or update, before a delete) with the request's context (the user or API key,
the URL); the previous snapshot of the same row is the "before". Rows that carry an organization
carry it in the snapshot, which is how the log is scoped; price-book entries are scoped through
their price book.

The triggers are installed by this app after every migrate (audit.triggers), not by migrations of
the tracked apps: see there for why.
"""

import pghistory
import pgtrigger

from accounts.models import ApiKey, User
from audit.triggers import keep_out_of_tracked_apps_migrations
from billing.models import CreditNote, Invoice, PriceBook, PriceBookEntry, PriceBookMeter
from metering.models import Rate
from outcomes.models import Dispute, OutcomeType


def _trackers(*, ignore: tuple[str, ...] = ()) -> tuple[pghistory.RowEvent, ...]:
    """Created, changed (a change of `ignore` alone is no event), deleted."""
    return (
        pghistory.InsertEvent("created", trigger_name="audit_created"),
        pghistory.UpdateEvent(
            "changed", trigger_name="audit_changed", condition=pgtrigger.AnyChange(exclude=list(ignore)),
        ),
        pghistory.DeleteEvent("deleted", trigger_name="audit_deleted"),
    )


def _track(model: type, name: str, *, exclude: tuple[str, ...] = (), ignore: tuple[str, ...] = ()) -> None:
    pghistory.track(*_trackers(ignore=ignore), exclude=list(exclude) or None, model_name=name, app_label="audit")(
        model
    )


_track(PriceBook, "PriceBookEvent")
_track(PriceBookEntry, "PriceBookEntryEvent")
_track(PriceBookMeter, "PriceBookMeterEvent")
_track(Rate, "RateEvent")
_track(OutcomeType, "OutcomeTypeEvent")
_track(Invoice, "InvoiceEvent")
_track(CreditNote, "CreditNoteEvent")
_track(Dispute, "DisputeEvent")
# A key's hash is a secret's fingerprint and its last use is not a change anyone made.
_track(ApiKey, "ApiKeyEvent", exclude=("key_hash", "last_used_at"), ignore=("last_used_at",))
# Password hashes are never copied; a password change is recorded as a change with no visible field.
_track(User, "UserEvent", exclude=("password", "last_login"), ignore=("last_login",))

keep_out_of_tracked_apps_migrations()
