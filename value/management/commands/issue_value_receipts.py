"""Issue (or amend) the value receipts of finalized periods: a receipt is issued when a period is
finalized; run this after a credit note or late lines changed a finalized period's figures, or to issue
receipts for periods finalized before receipts existed. Safe to run again."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Organization
from core.errors import DomainError
from core.periods import period_parse
from value.services.receipts import receipts_issue_all


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--organization", help="Slug; default: every organization.")
        parser.add_argument("--period", help="YYYY-MM; default: every finalized period.")

    def handle(self, *args: Any, **options: Any) -> None:
        organizations = Organization.objects.order_by("pk")
        if options["organization"]:
            organizations = organizations.filter(slug=options["organization"])
            if not organizations.exists():
                raise CommandError(f"No organization {options['organization']!r}.")
        try:
            period = period_parse(options["period"]) if options["period"] else None
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        for organization in organizations:
            receipts = receipts_issue_all(organization=organization, period=period)
            self.stdout.write(f"{organization.slug}: {len(receipts)} receipts standing, "
                              f"{sum(1 for r in receipts if r.reason == 'amended')} amended")
