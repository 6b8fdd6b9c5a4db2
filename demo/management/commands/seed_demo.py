"""Seed the demo: the vendor Acme AI, three customers, a real rate card, a month of tasks, a billing run.

Events go through the same ingestion services as the HTTP API, with idempotency keys derived from a
fixed seed, so running the command again stores nothing twice (it only adds the tasks of the
current month that finished since the last run) and replaces the draft invoices with the same result.
Metering, outcomes and billing are reached through their services and selectors; only `--reset` goes
past them, deleting the demo organization's rows from every table.
"""

import logging
from datetime import timedelta
from decimal import Decimal
from time import monotonic
from typing import Any

import orjson
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from accounts.models import ApiKey, Organization, User
from accounts.selectors import customer_get, customer_list
from accounts.services import api_key_create, customer_create, organization_get_or_create, user_create
from billing.models import BillingRun, InvoiceLine
from billing.selectors.account import notification_list, price_book_in_force, wallet_balances
from billing.selectors.aging import invoice_overdue_q
from billing.selectors.invoices import credit_note_list, invoice_list
from billing.selectors.roi import roi_figures, roi_get
from billing.services.price_books import EntrySpec, price_book_create
from billing.services.runs import billing_run_create
from core.money import format_money
from core.periods import Period
from demo import data as demo
from demo import seed_console, seed_document, seed_payments, seed_proof, seed_value
from ingest.store import json_default
from ingest.validate import BatchResult
from metering.ingestion import usage_events_ingest
from metering.selectors import meter_codes, rate_list
from metering.services import meter_create, rate_create
from outcomes.ingestion import outcome_events_ingest
from outcomes.selectors import dispute_list, outcome_types_by_id
from outcomes.services import (
    outcome_event_reverse,
    outcome_type_create,
    outcomes_verify_due,
)

BASE_URL = "http://127.0.0.1:8000"  # `make demo PORT=…` passes its own (--base-url)
VENDOR_ADMIN = ("vendor-admin", "tally-demo-vendor")
CUSTOMER_FINANCE = ("globex-finance", "tally-demo-finance")
OPS = ("ops", "tally-demo-ops")
DEFAULT_TASKS = 3000
# The API's own limit per request; the seed sends full batches, as a well-behaved client would.
BATCH = 1000


class Command(BaseCommand):
    help = "Create (or refresh) the Acme AI demo: customers, rate card, a month of events, a billing run."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tasks", type=int, default=DEFAULT_TASKS,
                            help="tasks per 31-day month, across the three customers (default 3000)")
        parser.add_argument("--history", type=int, default=2,
                            help="full months before last month, for the ROI trend (default 2)")
        parser.add_argument("--seed", type=int, default=2025, help="random seed (default 2025)")
        parser.add_argument("--reset", action="store_true", help="delete the demo organization first")
        parser.add_argument("--no-finalize", action="store_true",
                            help="leave past months' invoices as drafts (default: finalize those past grace)")
        parser.add_argument("--base-url", default=getattr(settings, "PORTAL_PUBLIC_URL", BASE_URL),
                            help="where the portal is served (default: PORTAL_PUBLIC_URL, else " + BASE_URL + ")")

    def handle(self, *args: Any, **options: Any) -> None:
        started = monotonic()
        # Tasks run in this process (no worker): their per-task success lines would bury the summary.
        logging.getLogger("celery.app.trace").setLevel(logging.WARNING)
        logging.getLogger("kombu").setLevel(logging.ERROR)  # "No hostname was supplied" without a broker URL
        logging.getLogger("stripe").setLevel(logging.WARNING)  # the SDK logs every request at INFO
        self.base_url = options["base_url"].rstrip("/")
        now = timezone.now()
        current = Period.of(now)
        previous = current.previous()
        if options["reset"]:
            self._reset()
        organization = self._catalog()
        periods = [previous]
        for _ in range(options["history"]):
            periods.insert(0, periods[0].previous())
        periods.append(current)
        self._price_books(organization, periods[0], volume=options["tasks"] / DEFAULT_TASKS)
        seed_console.wallet_seed(organization=organization, first=periods[0], volume=options["tasks"] / DEFAULT_TASKS)
        # Other features' seeds that must shape the invoices (billing details, tax) run here, before billing.
        seed_document.document_seed(organization=organization, write=self.stdout.write)
        for period in periods:
            # The business grows: each month before last month has fewer tasks than the one after it.
            months_back = max(0, (previous.start.year - period.start.year) * 12
                              + previous.start.month - period.start.month)
            volume = round(options["tasks"] * demo.MONTHLY_GROWTH ** -months_back)
            label = {previous: "last month", current: "this month, so far"}.get(period, "history")
            tasks = [
                task for task in demo.month_tasks(
                    seed=options["seed"], month_start=period.start_at, tasks_per_31_days=volume
                )
                # A task is posted once it has finished; the ingestion API refuses future timestamps.
                if task.ends_at <= now - timedelta(minutes=1)
            ]
            usage, outcomes, reversed_count = self._load(organization, tasks)
            self.stdout.write(
                f"{period.label} ({label}): {len(tasks)} tasks, {usage} new usage events, "
                f"{outcomes} new outcome events, {reversed_count} outcomes reversed"
            )
        verified = outcomes_verify_due(now=now)
        self.stdout.write(f"Verified {verified} outcomes whose verification window has passed.")
        # Before billing: a disputed outcome is held out of its draft from the start.
        seed_console.dispute_seed(organization=organization, now=now)
        for period in periods:
            self._bill(organization, period)
        if not options["no_finalize"]:
            seed_console.finalize_due(organization=organization, now=now, write=self.stdout.write)
            seed_console.receivables_seed(organization=organization, previous=previous, now=now,
                                          write=self.stdout.write)
            # This month's draft again, as the hourly refresh would: finalizing drew the wallet down.
            self._bill(organization, current)
        # Other features' seeds that build on finalized invoices (payments, proof, value) run here.
        seed_proof.proof_seed(organization=organization, now=now, write=self.stdout.write)
        seed_value.value_seed(organization=organization, first=periods[0], now=now, write=self.stdout.write)
        seed_payments.payments_seed(organization=organization, write=self.stdout.write, base_url=self.base_url)
        seed_document.document_report(organization=organization, write=self.stdout.write)
        logins = self._logins(organization)
        self._report(organization, previous, logins, monotonic() - started)

    def _reset(self) -> None:
        organization = Organization.objects.filter(slug=demo.ORGANIZATION_SLUG).first()
        if organization is None:
            return
        try:
            self._delete_organization(organization)
        except DatabaseError as exc:
            # Finalized invoices are frozen by database triggers, demo or not.
            raise CommandError(
                f"Could not delete the demo organization ({exc}). If its invoices were finalized, start "
                "over with an empty database instead (for the embedded one: stop it, then `make clean-db`)."
            ) from exc
        self.stdout.write(f"Deleted the demo organization {demo.ORGANIZATION_SLUG!r} and all its data.")

    @staticmethod
    def _delete_organization(organization: Organization) -> None:
        # Foreign keys are checked at commit (Django declares them DEFERRABLE INITIALLY DEFERRED), so
        # the organization's rows can go table by table in any order, in plain SQL: some tables (usage
        # events, idempotency keys) have no ORM relations to follow, and new apps' tables are found too.
        user_table = User._meta.db_table
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT c.table_name FROM information_schema.columns c "
                "JOIN information_schema.tables t USING (table_schema, table_name) "
                "WHERE c.table_schema = current_schema() AND c.column_name = 'organization_id' "
                "AND t.table_type = 'BASE TABLE' AND NOT EXISTS ("
                "  SELECT 1 FROM pg_inherits i WHERE i.inhrelid = to_regclass(c.table_name))"
            )
            owned = sorted(row[0] for row in cursor.fetchall() if row[0] != user_table)
            # Rows without an organization_id of their own (a price book's entries) go with their parent.
            cursor.execute(
                "SELECT child.relname, child_column.attname, parent.relname, parent_column.attname "
                "FROM pg_constraint con "
                "JOIN pg_class child ON child.oid = con.conrelid "
                "JOIN pg_class parent ON parent.oid = con.confrelid "
                "JOIN pg_attribute child_column ON child_column.attrelid = con.conrelid "
                "  AND child_column.attnum = con.conkey[1] "
                "JOIN pg_attribute parent_column ON parent_column.attrelid = con.confrelid "
                "  AND parent_column.attnum = con.confkey[1] "
                "WHERE con.contype = 'f' AND parent.relname = ANY(%s) AND NOT child.relname = ANY(%s) "
                "AND child.relname <> %s",
                [owned, owned, user_table],
            )
            children = sorted(cursor.fetchall())
            # The demo reset is the one place that deletes frozen documents (the demo's own finalized
            # invoices, credit notes and their lines): their guards are switched off inside this
            # transaction only (DDL is transactional, and the tables stay locked until the commit puts
            # them back).
            frozen_tables = ["billing_invoice", "billing_invoiceline", "billing_creditnote", "billing_creditnoteline",
                             "billing_invoicetax", "billing_invoicepayment"]
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # ALTER TABLE needs no pending checks
            frozen_tables += ["value_valuereceipt", "value_baseline"]  # sealed receipts, baseline versions
            for table in frozen_tables:
                cursor.execute(f'ALTER TABLE "{table}" DISABLE TRIGGER USER')
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            for child, column, parent, parent_key in children:
                cursor.execute(
                    f'DELETE FROM "{child}" WHERE "{column}" IN '
                    f'(SELECT "{parent_key}" FROM "{parent}" WHERE organization_id = %s)',
                    [organization.pk],
                )
            for table in owned:
                cursor.execute(f'DELETE FROM "{table}" WHERE organization_id = %s', [organization.pk])
            # Users through the ORM, so their groups, permissions and admin log entries go with them.
            User.objects.filter(organization=organization).delete()
            organization.delete()
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # check every foreign key now, then guard again
            for table in frozen_tables:
                cursor.execute(f'ALTER TABLE "{table}" ENABLE TRIGGER USER')
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")

    def _catalog(self) -> Organization:
        organization = organization_get_or_create(slug=demo.ORGANIZATION_SLUG, name=demo.ORGANIZATION_NAME)
        customers = set(customer_list(organization=organization).values_list("external_id", flat=True))
        for spec in demo.CUSTOMERS:
            if spec.external_id not in customers:
                customer_create(organization=organization, external_id=spec.external_id, name=spec.name,
                                currency=demo.CURRENCY, email=spec.email)
        meters = set(meter_codes(organization_id=organization.pk).values())
        for meter in demo.METERS:
            if meter.code not in meters:
                meter_create(organization=organization, code=meter.code, name=meter.name, unit=meter.unit,
                             aggregation=meter.aggregation)
        rates = rate_list(organization_id=organization.pk)
        for rate in demo.RATES:
            known = rates.filter(
                meter__code=rate.meter, dimensions=rate.dimensions, effective_from=demo.RATES_EFFECTIVE_FROM
            ).exists()
            if not known:
                rate_create(organization=organization, meter_code=rate.meter, dimensions=rate.dimensions,
                            unit_cost=rate.unit_cost, per=rate.per, currency=demo.CURRENCY,
                            effective_from=demo.RATES_EFFECTIVE_FROM)
        types = {outcome_type.code for outcome_type in outcome_types_by_id(organization_id=organization.pk).values()}
        for outcome_type in demo.OUTCOME_TYPES:
            if outcome_type.code not in types:
                outcome_type_create(
                    organization=organization, code=outcome_type.code, name=outcome_type.name,
                    price=outcome_type.price, currency=demo.CURRENCY,
                    verification_window_hours=outcome_type.verification_window_hours,
                    value=outcome_type.value,
                )
        return organization

    def _load(self, organization: Organization, tasks: list[demo.Task]) -> tuple[int, int, int]:
        usage = [event for task in tasks for event in task.usage]
        outcomes = [task.outcome for task in tasks if task.outcome is not None]
        stored_usage = sum(
            self._ingest(usage_events_ingest, organization, batch).accepted
            for batch in demo.chunks(usage, BATCH)
        )
        stored_outcomes = sum(
            self._ingest(outcome_events_ingest, organization, batch).accepted
            for batch in demo.chunks(outcomes, BATCH)
        )
        reversals = [task for task in tasks if task.reversed and task.outcome is not None]
        for task in reversals:
            # Reversing twice is a no-op, so a second seed run changes nothing here either.
            outcome_event_reverse(
                organization=organization, idempotency_key=task.outcome["idempotency_key"],  # type: ignore[index]
                reason="Customer reopened the task.", actor_label="seed_demo",
            )
        return stored_usage, stored_outcomes, len(reversals)

    @staticmethod
    def _ingest(ingest: Any, organization: Organization, events: list[dict[str, Any]]) -> BatchResult:
        body = orjson.dumps({"events": events}, default=json_default)
        result: BatchResult = ingest(organization_id=organization.pk, body=body)
        if result.rejected:
            first = result.rejected[0]
            raise CommandError(
                f"{len(result.rejected)} demo events rejected; "
                f"first: {events[first['index']]} {first['errors']}"
            )
        return result

    def _price_books(self, organization: Organization, first: Period, *, volume: float) -> None:
        """Each customer's price book; spend caps scale with `volume` (tasks asked ÷ the default), so a
        smaller demo still crosses its alert thresholds."""
        for spec in demo.PRICE_BOOKS:
            customer = customer_get(organization=organization, external_id=spec.customer)
            if price_book_in_force(customer_id=customer.pk, period_start=first.start) is not None:
                continue
            cap = None if spec.spend_cap is None else (spec.spend_cap * Decimal(str(volume))).quantize(Decimal("1.00"))
            price_book_create(
                customer=customer, effective_from=first, currency=demo.CURRENCY,
                entries=[EntrySpec(**entry) for entry in spec.entries],
                platform_fee=spec.platform_fee, minimum_commit=spec.minimum_commit, spend_cap=cap,
            )

    def _bill(self, organization: Organization, period: Period) -> None:
        # In this process, as billing's own hourly refresh does: with a broker configured, a run sent to the
        # workers would leave the demo waiting for one.
        run = billing_run_create(organization=organization, period=period, inline=True)
        if run.status != BillingRun.Status.DONE:
            raise CommandError(f"Billing run {run.pk} for {period.label} {run.status}: {run.error}")
        self.stdout.write(f"Billing run {run.pk} for {period.label}: {run.status}, "
                          f"{run.customers_done}/{run.customers_total} customers.")

    def _logins(self, organization: Organization) -> dict[str, str]:
        globex = customer_get(organization=organization, external_id="globex")
        self._user(*VENDOR_ADMIN, organization=organization, role=User.Role.VENDOR_ADMIN,
                   email="admin@acme-ai.example")
        self._user(*CUSTOMER_FINANCE, organization=organization, role=User.Role.CUSTOMER_FINANCE,
                   customer=globex, email="finance@globex.example")
        username, password = OPS
        ops = get_user_model().objects.filter(username=username).first()
        if ops is None:
            ops = get_user_model().objects.create_superuser(username=username, email="ops@tally.example",
                                                            password=password)
        ops.set_password(password)
        ops.save(update_fields=["password"])
        # One live demo key: the raw key is shown only at creation, so each run revokes the last one.
        ApiKey.objects.filter(organization=organization, name="demo", revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        _, raw_key = api_key_create(organization=organization, name="demo")
        return {"api_key": raw_key}

    @staticmethod
    def _user(username: str, password: str, **fields: Any) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            user_create(username=username, password=password, **fields)
            return
        user.set_password(password)  # the printed password always works, even if someone changed it
        user.save(update_fields=["password"])

    def _report(
        self, organization: Organization, period: Period, logins: dict[str, str], seconds: float
    ) -> None:
        write = self.stdout.write
        write("")
        write(f"Invoices of {organization.name} for {period.label}:")
        for invoice in invoice_list(organization=organization, period=period):
            roi: dict[str, Any] = roi_figures(roi_get(customer=invoice.customer, period=period))
            write(
                f"  {invoice.customer.name:<20} {invoice.status:<9} {invoice.lines.count():>5} lines"
                f"   billed "
                f"{format_money(invoice.total, invoice.currency):>14}   cost to serve "
                f"{format_money(roi['cost_to_serve'], roi['cost_currency']):>12}   value delivered "
                f"{format_money(roi['value_delivered'], invoice.currency):>14}"
            )
        self._features(organization)
        key = logins["api_key"]
        base = self.base_url
        write(f"""
Seeded in {seconds:.1f} s.

  Portal          {base}/                (vendor: the dashboard; customer: its invoices)
  Aging           {base}/aging/
  API docs        {base}/api/docs/
  Django admin    {base}/admin/

  Vendor admin    {VENDOR_ADMIN[0]} / {VENDOR_ADMIN[1]}   (Acme AI: every customer)
  Customer user   {CUSTOMER_FINANCE[0]} / {CUSTOMER_FINANCE[1]}  (Globex finance: Globex only)
  Ops superuser   {OPS[0]} / {OPS[1]}  (Django admin)

  API key         {key}

  curl -H "Authorization: Bearer {key}" "{base}/api/v1/invoices?customer=globex&period={period.label}"
  curl -H "Authorization: Bearer {key}" "{base}/api/v1/customers/globex/roi?period={period.label}"
""")

    def _features(self, organization: Organization) -> None:
        """Where each feature's demo data is, so a visitor knows what to open."""
        write = self.stdout.write
        invoices = invoice_list(organization=organization)
        today = timezone.now().date()

        def numbers(found: Any) -> str:
            listed = [f"{invoice.number} ({invoice.customer.name}, {invoice.period})" for invoice in found[:3]]
            return ", ".join(listed) or "none"

        notes = list(credit_note_list(organization_id=organization.pk))
        disputes = dispute_list(organization_id=organization.pk, open_=True)
        initech = customer_get(organization=organization, external_id=seed_console.WALLET_CUSTOMER)
        balance = sum((grant.balance for grant in wallet_balances(customer_id=initech.pk, currency=initech.currency,
                                                                  at=timezone.now())), start=0)
        globex = customer_get(organization=organization, external_id="globex")
        alerts = notification_list(customer=globex)
        true_ups = InvoiceLine.objects.filter(organization=organization, kind=InvoiceLine.Kind.MINIMUM_COMMIT).count()
        write("\nWhat the demo holds:")
        write(f"  Paid invoices       {numbers(invoices.filter(status='paid'))}")
        write(f"  Overdue invoices    {numbers(invoices.filter(invoice_overdue_q(today)))}")
        write(f"  Credit note         {', '.join(f'{n.number} on {n.invoice.number}' for n in notes) or 'none'}")
        write(f"  Open disputes       {disputes.count()} (the Disputes page)")
        left = format_money(Decimal(balance), initech.currency)
        write(f"  Prepaid wallet      Initech: {left} left, drawn down by its invoices")
        write(f"  Spend-cap alerts    Globex: {len(alerts)} (50% and 80% of its cap, per month)")
        write(f"  Minimum commit      {true_ups} true-up lines (Initech and Umbrella)")
