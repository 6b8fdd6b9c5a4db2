"""A draft's stamp: a digest of everything its reconciliation read, so a billing run can tell a draft that
is still current (kept live by billing.refresh_live_drafts) from one it must compute again.

The stamp is built from the rows themselves, not from a list of what reconciliation reads today: for
every table of the apps reconciliation reads (accounts, metering, outcomes, billing, rollups), the
count of the rows in the customer's scope (its own rows, or those of its invoices, outcomes, price
books or credit notes, else its organization's, else the table's)
and the newest transaction id that wrote one of them (xmin), so any insert, update or delete there
changes it; and, for every timestamp column that is not set by the clock on save, how many of those
rows' timestamps are at or before the cutoff (a verification window ending, a credit expiring, a
reversal taking effect), so time alone changes it too. Usage events are covered by their rollups
(rollups_customer_period is written by every fold) and by whether the customer has events the job
has not folded yet.

Computed at the end of a reconciliation (its own writes included), it is the state the draft was
computed from; a run that finds the same stamp for its cutoff leaves the draft as it is. Finalization
always reconciles in full, so a frozen invoice never rests on a stamp.
"""

from datetime import datetime
from functools import cache

from django.apps import apps
from django.db import connection, models

from rollups.selectors import events_unfolded

# Rows these tables hold change without changing any draft: who logged in, which key was used, the
# progress of runs, and draft lines (rewritten with their invoice row, which the stamp covers).
_IGNORED = {"accounts.User", "accounts.ApiKey", "billing.BillingRun", "billing.BillingRunChunk",
            "billing.InvoiceLine", "billing.InvoiceLineGroup", "billing.InvoiceTaskTotal", "metering.UsageEvent"}
_APPS = ("accounts", "metering", "outcomes", "billing")


def _has_foreign_key(model: type[models.Model], name: str) -> bool:
    return any(f.name == name and isinstance(f, models.ForeignKey) for f in model._meta.concrete_fields)


def _customer_parent(model: type[models.Model]) -> tuple[str, str, bool] | None:
    """(column, table, whether it has organization_id) of the model's first foreign key to a table whose
    rows belong to one customer."""
    for field in model._meta.concrete_fields:
        if isinstance(field, models.ForeignKey):
            related = field.related_model
            if _has_foreign_key(related, "customer"):
                return field.column, related._meta.db_table, _has_foreign_key(related, "organization")
    return None


@cache
def _parts() -> tuple[str, ...]:
    parts = []
    for label in _APPS:
        for model in apps.get_app_config(label).get_models():
            if f"{model._meta.app_label}.{model.__name__}" in _IGNORED or not model._meta.managed:
                continue
            table = model._meta.db_table
            names = {f.name: f for f in model._meta.concrete_fields}
            if model._meta.label == "accounts.Customer":
                scope = "id = %(customer)s"
            elif model._meta.label == "accounts.Organization":
                scope = "id = %(organization)s"
            elif "customer" in names and isinstance(names["customer"], models.ForeignKey):
                scope = "customer_id = %(customer)s"
            elif parent := _customer_parent(model):
                # Rows of the customer's invoices, outcomes, price books, credit notes: another customer's
                # reconciliation writing its own (taxes of its invoice) must not move this stamp.
                column, parent_table, parent_organization = parent
                within = "organization_id = %(organization)s AND " if parent_organization else ""
                scope = f"{column} IN (SELECT id FROM {parent_table} WHERE {within}customer_id = %(customer)s)"
            elif "organization" in names and isinstance(names["organization"], models.ForeignKey):
                scope = "organization_id = %(organization)s"
            else:
                scope = "true"
            if scope != "true" and not scope.startswith("organization_id") and _has_foreign_key(model, "organization"):
                # Event tables' keys lead with the organization (Citus-ready): name it, so they serve.
                scope = f"organization_id = %(organization)s AND {scope}"
            clocks = [
                f"count(*) FILTER (WHERE {f.column} <= %(cutoff)s)" for f in model._meta.concrete_fields
                if isinstance(f, models.DateTimeField) and not (f.auto_now or f.auto_now_add)
            ]
            columns = ", ".join(["count(*)", "max(xmin::text::bigint)", *clocks])
            parts.append(f"SELECT '{table}', ARRAY[{columns}]::text FROM {table} WHERE {scope}")
    parts.append("""SELECT 'rollups', ARRAY[count(*), max(xmin::text::bigint),
                                              count(*) FILTER (WHERE max_received_at <= %(cutoff)s)]::text
                    FROM rollups_customer_period WHERE organization_id = %(organization)s
                      AND customer_id = %(customer)s""")
    parts.append("""SELECT 'outcome deltas', count(*)::text FROM rollups_outcome_delta
                    WHERE organization_id = %(organization)s AND customer_id = %(customer)s""")
    return tuple(parts)


def _statement() -> str:
    params = {"organization": "$1", "customer": "$2", "cutoff": "$3::timestamptz"}
    return "SELECT md5(string_agg(part || ':' || value, ';' ORDER BY part)) FROM (" + " UNION ALL ".join(
        f"SELECT * FROM ({part % params}) p{i}(part, value)" for i, part in enumerate(_parts())
    ) + ") parts"


# Connections (by backend process id) holding the prepared statement: planning its forty-odd scans took
# longer than running them, so each connection plans it once.
_prepared: set[tuple[str, int]] = set()


def draft_stamp(*, organization_id: int, customer_id: int, cutoff: datetime) -> str:
    """The stamp of a customer's drafts as of `cutoff` (see the module's docstring)."""
    with connection.cursor() as cursor:
        key = (connection.alias, connection.connection.info.backend_pid)
        if key not in _prepared:
            cursor.execute("SELECT EXISTS (SELECT FROM pg_prepared_statements WHERE name = 'tally_draft_stamp')")
            if cursor.fetchone()[0]:  # a new connection served by a recycled backend id: plan afresh
                cursor.execute("DEALLOCATE tally_draft_stamp")
            cursor.execute(f"PREPARE tally_draft_stamp (bigint, bigint, timestamptz) AS {_statement()}")
            _prepared.add(key)
        # Events of the customer the rollup job has not folded, read before the rows above: an event
        # folded in between shows in the rollups then, so no event can hide from both.
        tail = events_unfolded(organization_id=organization_id, customer_id=customer_id)
        cursor.execute("EXECUTE tally_draft_stamp (%s, %s, %s)", [organization_id, customer_id, cutoff])
        return f"{cursor.fetchone()[0]}:{tail}"


def draft_stamp_stored(*, organization_id: int, invoice_id: int) -> str | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT stamp FROM rollups_draft_stamp WHERE organization_id = %s AND invoice_id = %s",
                       [organization_id, invoice_id])
        row = cursor.fetchone()
    return row[0] if row else None


def draft_stamp_store(*, organization_id: int, invoice_id: int, stamp: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("""
            INSERT INTO rollups_draft_stamp (organization_id, invoice_id, stamp) VALUES (%s, %s, %s)
            ON CONFLICT (organization_id, invoice_id) DO UPDATE SET stamp = EXCLUDED.stamp
        """, [organization_id, invoice_id, stamp])
