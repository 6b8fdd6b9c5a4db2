from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Organization
from accounts.selectors import customer_get
from billing.services.finalize import invoices_finalize_due
from billing.services.runs import billing_run_create
from core.errors import DomainError
from core.periods import period_parse


class Command(BaseCommand):
    help = "Reconcile a period in this process (ops and cron); --finalize-due finalizes drafts past grace."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--organization", help="organization slug (default: every organization)")
        parser.add_argument("--period", help="YYYY-MM")
        parser.add_argument("--customer", help="customer external_id (needs --organization)")
        parser.add_argument("--finalize-due", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["finalize_due"]:
            self.stdout.write(f"finalized {invoices_finalize_due()} invoices")
            return
        try:
            period = period_parse(options["period"])
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        organizations = Organization.objects.order_by("pk")
        if options["organization"]:
            organizations = organizations.filter(slug=options["organization"])
            if not organizations.exists():
                raise CommandError(f"no organization {options['organization']!r}")
        for organization in organizations:
            try:
                customer = (
                    customer_get(organization=organization, external_id=options["customer"])
                    if options["customer"] else None
                )
                run = billing_run_create(organization=organization, period=period, customer=customer, inline=True)
            except DomainError as exc:
                raise CommandError(f"{organization.slug}: {exc.message}") from exc
            self.stdout.write(f"{organization.slug} {period.label}: {run.status}, "
                              f"{run.customers_done}/{run.customers_total} customers {run.error}".rstrip())
