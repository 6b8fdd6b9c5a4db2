"""`manage.py verify_rollups --period 2026-10 [--organization slug]`: recompute a period's figures from the
raw events and report every difference from the rollups, and sum the period's invoices' lines again and
report every difference from their stored totals; exits 1 when there is one."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Organization
from billing.models import Invoice
from billing.totals_check import invoice_totals_differences
from core.errors import DomainError
from core.periods import period_parse
from rollups.verify import rollups_verify


class Command(BaseCommand):
    help = ("Compare a period's rollups with a recompute from the raw events, and its invoices' stored totals with "
            "their lines (exit 1 on a difference).")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--period", required=True, help="YYYY-MM")
        parser.add_argument("--organization", help="an organization's slug (default: every organization)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            period = period_parse(options["period"], field="--period")
        except DomainError as error:
            raise CommandError(f"--period: {error}") from error
        organizations = Organization.objects.order_by("pk")
        if options["organization"]:
            organizations = organizations.filter(slug=options["organization"])
            if not organizations.exists():
                raise CommandError(f"No organization with slug {options['organization']!r}.")
        differences = 0
        for organization in organizations:
            found = rollups_verify(organization_id=organization.pk, period=period)
            for difference in found:
                self.stdout.write(
                    f"{organization.slug} customer {difference.customer_id} {difference.figure}: "
                    f"rollups {difference.rollups}, raw events {difference.events}"
                )
            differences += len(found)
            invoices = list(Invoice.objects.filter(organization=organization, period_start=period.start)
                            .values_list("pk", flat=True))
            for sentence in invoice_totals_differences(invoices):
                self.stdout.write(f"{organization.slug} {sentence}")
                differences += 1
        if differences:
            raise CommandError(f"{differences} difference(s) between the rollups and the raw events of {period.label}, "
                               "or between its invoices' stored totals and their lines.", returncode=1)
        self.stdout.write(f"Rollups of {period.label} agree with the raw events, and its invoices' totals with their "
                          "lines.")
