"""`manage.py verify_rollups --period 2026-10 [--organization slug]`: recompute a period's figures from the
raw events and report every difference from the rollups; exits 1 when there is one."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Organization
from core.errors import DomainError
from core.periods import period_parse
from rollups.verify import rollups_verify


class Command(BaseCommand):
    help = "Compare a period's rollups with a recompute from the raw events (exit 1 on a difference)."

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
        if differences:
            raise CommandError(f"{differences} difference(s) between the rollups and the raw events of {period.label}.",
                               returncode=1)
        self.stdout.write(f"Rollups of {period.label} agree with the raw events.")
